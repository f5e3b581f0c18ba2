"""The time and size budget of one expression render, enforced inside the sandbox.

Every operation that can build a large string or list is checked *before* it allocates: the
operators (`*`, `%`, `+`, `~`), the string filters and str methods that pad, repeat or join,
`range`, `batch`/`slice` fills and printf/`str.format` widths. Loops and calls check the clock
as they go, so a loop in a loop or a recursive macro stops at the deadline instead of spinning.
A render over either budget fails with `ExpressionLimit`, naming the limit.
"""

from __future__ import annotations

import contextlib
import re
import string
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from workflows import taint

DEFAULT_TIME_LIMIT_MS = 1000
DEFAULT_SIZE_LIMIT = 1_000_000  # characters of a string, items of a list
CLOCK_EVERY = 256  # loop iterations between two reads of the clock


class ExpressionLimit(Exception):  # noqa: N818 - the sandbox's own refusals are *Error
    """A render ran over its time or size budget."""


@dataclass
class Budget:
    deadline: float
    time_limit_ms: int
    size_limit: int
    stop: threading.Event | None = None  # set from outside (a cancel): stop at the next check

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ExpressionLimit(f"time limit of {self.time_limit_ms} ms exceeded")
        if self.stop is not None and self.stop.is_set():
            raise ExpressionLimit("stopped: the run was cancelled")

    def check_size(self, size: int, what: str = "result") -> None:
        if size > self.size_limit:
            raise ExpressionLimit(f"size limit of {self.size_limit:,} exceeded: the {what} "
                                  f"would hold {size:,}")


_budget: ContextVar[Budget | None] = ContextVar("owlgrid_expression_budget", default=None)


def default_limits() -> tuple[int, int]:
    """The site's time (ms) and size budgets (OWLGRID_EXPRESSION_*_LIMIT settings)."""
    from django.conf import settings

    return (getattr(settings, "OWLGRID_EXPRESSION_TIME_LIMIT_MS", DEFAULT_TIME_LIMIT_MS),
            getattr(settings, "OWLGRID_EXPRESSION_SIZE_LIMIT", DEFAULT_SIZE_LIMIT))


def current() -> Budget:
    """The budget of the render in progress, or a fresh default one outside any."""
    active = _budget.get()
    if active is None:
        ms, size = default_limits()
        return Budget(time.monotonic() + ms / 1000, ms, size)
    return active


@contextlib.contextmanager
def budget(*, time_limit_ms: int | None = None, size_limit: int | None = None,
           stop: threading.Event | None = None) -> Iterator[Budget]:
    """Run the renders inside the block under one budget (the site's defaults where None);
    `stop`, once set, stops them at their next check of the clock."""
    default_ms, default_size = default_limits()
    ms = time_limit_ms or default_ms
    active = Budget(time.monotonic() + ms / 1000, ms, size_limit or default_size, stop)
    token = _budget.set(active)
    try:
        yield active
    finally:
        _budget.reset(token)


@contextlib.contextmanager
def ensure_budget() -> Iterator[Budget]:
    """The active budget, or a default one for the duration of the block."""
    active = _budget.get()
    if active is not None:
        yield active
        return
    with budget() as fresh:
        yield fresh


def check_time() -> None:
    current().check_time()


def check_size(size: int, what: str = "result") -> None:
    current().check_size(size, what)


def checked_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """A template loop's iterable, reading the clock every CLOCK_EVERY items."""
    active = current()
    for count, item in enumerate(iterable):
        if count % CLOCK_EVERY == 0:
            active.check_time()
        yield item


def checked_output(chunks: Iterable[str]) -> str:
    """A template's output, joined only while it stays within the size budget."""
    active = current()
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        active.check_size(size, "output")
        parts.append(chunk)
    return taint.join(parts)


_V = TypeVar("_V")


def sized(value: _V) -> _V:
    """`value`, refused when it is a string or list over the size budget."""
    if isinstance(value, str | list | tuple):
        check_size(len(value))
    return value


# printf-style fields (`%-10.3f`, `%*d`) and str.format specs (`>20`, `.5`, `{:0{width}}`).
PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
SPEC_NUMBERS = re.compile(r"\d+")


def check_printf(template: str, args: Any) -> None:
    """Refuse a printf format whose widths or precisions would build an oversized string."""
    values = list(args) if isinstance(args, tuple | list) else [args]
    total = len(template)
    for match in PRINTF_FIELD.finditer(template):
        for number in match.groups():
            if number == "*":
                width = values.pop(0) if values and isinstance(values[0], int) else 0
                total += abs(width)
            elif number:
                total += int(number)
    check_size(total, "formatted string")


def check_format_spec(template: str) -> None:
    """Refuse a str.format template whose widths or precisions would build an oversized
    string (nested fields like `{:{w}}` are refused: their width is not known here)."""
    total = len(template)
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is None:
            continue
        if spec and "{" in spec:
            raise ExpressionLimit("a format width taken from a value is not allowed")
        total += sum(int(n) for n in SPEC_NUMBERS.findall(spec or ""))
    check_size(total, "formatted string")


def repeat_size(seq: Any, count: Any) -> int | None:
    if isinstance(seq, str | list | tuple) and isinstance(count, int):
        return len(seq) * max(count, 0)
    return None
