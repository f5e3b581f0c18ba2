"""Jinja's string- and list-building filters, each refusing, before it builds anything, a
result over the render's size budget (workflows/expression_limits.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import pass_environment, pass_eval_context

from workflows import expression_limits as limits
from workflows import taint


def _lines(value: Any) -> int:
    return str(value).count("\n") + 1


def _width(value: Any) -> int:
    """A filter's width argument: a number, or (indent) a string used as the padding."""
    if isinstance(value, str):
        return len(value)
    return int(value) if isinstance(value, int | float) else 0


def capped_filters(builtin: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Replacements for the built-in filters that can build oversized results."""

    def built_text(name: str, *args: Any, **kwargs: Any) -> str:
        """The built-in filter `name`, one of those building a string."""
        result: str = builtin[name](*args, **kwargs)
        return result

    def format_(value: Any, *args: Any, **kwargs: Any) -> str:
        limits.check_printf(str(value), kwargs or args)
        return built_text("format", value, *args, **kwargs)

    def indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
        limits.check_size(len(str(value)) + _width(width) * _lines(value), "indent result")
        return built_text("indent", value, width, first, blank)

    def center(value: Any, width: int = 80) -> str:
        limits.check_size(max(len(str(value)), _width(width)), "center result")
        return built_text("center", value, width)

    @pass_environment
    def wordwrap(environment: Any, value: Any, width: int = 79, break_long_words: bool = True,
                 wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
        text = str(value)
        breaks = len(text) // max(int(width), 1) + _lines(text)
        joiner = len(wrapstring) if wrapstring is not None else 1
        limits.check_size(len(text) + breaks * joiner, "wordwrap result")
        return built_text("wordwrap", environment, value, width, break_long_words,
                          wrapstring, break_on_hyphens)

    @pass_eval_context
    def replace(eval_ctx: Any, value: Any, old: str, new: str, count: int | None = None) -> str:
        text, old, new = str(value), str(old), str(new)
        found = text.count(old) if old else len(text) + 1
        if count is not None and count >= 0:
            found = min(found, count)
        limits.check_size(len(text) + found * max(len(new) - len(old), 0), "replace result")
        return built_text("replace", eval_ctx, value, old, new, count)

    @pass_eval_context
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "",
             attribute: Any = None) -> str:
        items = list(value)
        size = sum(len(str(item)) for item in items) + len(str(d)) * max(len(items) - 1, 0)
        if attribute is None:
            limits.check_size(size, "join result")
        if attribute is None:  # a secret's part stays marked, the text around it readable
            return limits.sized(taint.join(items, str(d)))
        return limits.sized(built_text("join", eval_ctx, items, d, attribute))

    def batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
        if fill_with is not None:
            limits.check_size(int(linecount), "batch fill")
        return builtin["batch"](value, linecount, fill_with)

    def slice_(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
        limits.check_size(int(slices), "slice count")
        return builtin["slice"](value, slices, fill_with)

    @pass_environment
    def sum_(environment: Any, iterable: Iterable[Any], attribute: Any = None,
             start: Any = 0) -> Any:
        if not isinstance(start, int | float):
            raise limits.ExpressionLimit("sum adds numbers only: use join for strings")
        return builtin["sum"](environment, iterable, attribute, start)

    return {"format": format_, "indent": indent, "center": center, "wordwrap": wordwrap,
            "replace": replace, "join": join, "batch": batch, "slice": slice_, "sum": sum_,
            "tojson": tojson}


def tojson(value: Any) -> str:
    """JSON text of `value`, built piece by piece and stopped at the size budget."""
    active = limits.current()
    size = 0
    parts: list[str] = []
    for chunk in json.JSONEncoder(default=str).iterencode(value):
        size += len(chunk)
        active.check_size(size, "JSON text")
        parts.append(chunk)
    return "".join(parts)
