"""Jinja2 expressions in action inputs, rendered in a locked-down sandbox.

`ImmutableSandboxedEnvironment` blocks attribute tricks (`__class__`, `__globals__`, `format`
on strings via `attr`), `StrictUndefined` turns typos into errors, and the operator intercepts
cap the size of what `*`, `**` and `range` may build so that `{{ 9**9**9 }}` or
`{{ 'x' * 10**9 }}` fail fast instead of eating the worker. The context holds run data only.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT_CHARS = 1_000_000
MAX_RANGE = 100_000
MAX_POWER_EXPONENT = 1_000
MAX_STRING_REPEAT = 1_000_000
MAX_INT_BITS = 128
EXPRESSION_MARK = re.compile(r"{{|{%")
SINGLE_EXPRESSION = re.compile(r"^\s*{{(?P<expr>.*?)}}\s*$", re.DOTALL)


class ExpressionError(ValueError):
    """An expression that does not parse, fails, or breaks a safety cap; the message says which."""


def _checked_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"number too large (more than {MAX_INT_BITS} bits)")
    return value


def _safe_pow(left: Any, right: Any) -> Any:
    if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
        raise SecurityError(f"exponent {right} is above the limit of {MAX_POWER_EXPONENT}")
    big = isinstance(left, int) and isinstance(right, int) and right > 0
    if big and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
        raise SecurityError(f"power result too large (more than {MAX_INT_BITS} bits)")
    return _checked_number(operator.pow(left, right))


def _safe_mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        repeats = isinstance(seq, str | list | tuple) and isinstance(count, int)
        if repeats and len(seq) * count > MAX_STRING_REPEAT:
            raise SecurityError(f"repetition result above {MAX_STRING_REPEAT} items")
    return _checked_number(operator.mul(left, right))


def _safe_binary(op: Any) -> Any:
    return lambda left, right: _checked_number(op(left, right))


def _safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range of {len(result)} items is above the limit of {MAX_RANGE}")
    return result


class OwlGridSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "-", "//", "/", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # JSON data first: `trigger.body.items` is the "items" key, not the dict method.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        handlers = {
            "**": _safe_pow,
            "*": _safe_mul,
            "+": _safe_add,
            "-": _safe_binary(operator.sub),
            "//": _safe_binary(operator.floordiv),
            "/": _safe_binary(operator.truediv),
            "%": _safe_binary(operator.mod),
        }
        return handlers[operator_name](left, right)


def _safe_add(left: Any, right: Any) -> Any:
    joins = isinstance(left, str | list) and isinstance(right, str | list)
    if joins and len(left) + len(right) > MAX_OUTPUT_CHARS:
        raise SecurityError(f"result above {MAX_OUTPUT_CHARS} characters")
    return _checked_number(operator.add(left, right))


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str)


def _build_environment() -> OwlGridSandbox:
    env = OwlGridSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals = {"range": _safe_range, "dict": dict, "lipsum": None, "cycler": None}
    env.globals = {k: v for k, v in env.globals.items() if v is not None}
    # `attr` reaches methods by name (the route of CVE-2024-56326 style escapes): not offered.
    del env.filters["attr"]
    env.filters["tojson"] = _tojson
    env.filters["fromjson"] = json.loads
    return env


ENVIRONMENT = _build_environment()


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and EXPRESSION_MARK.search(value) is not None


def syntax_error(source: str) -> str | None:
    """Return a readable message when `source` does not parse, else None."""
    try:
        ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        return f"expression syntax error: {exc.message} (line {exc.lineno})"
    except RecursionError:
        return "expression nested too deeply"
    return None


def referenced_names(source: str) -> set[tuple[str, str]]:
    """Pairs like ('env', 'API_BASE') or ('steps', 'fetch') read by an expression."""
    try:
        tree = ENVIRONMENT.parse(source)
    except (TemplateSyntaxError, RecursionError):
        return set()
    found: set[tuple[str, str]] = set()
    for getattr_node in tree.find_all(nodes.Getattr):
        if isinstance(getattr_node.node, nodes.Name):
            found.add((getattr_node.node.name, getattr_node.attr))
    for getitem in tree.find_all(nodes.Getitem):
        if isinstance(getitem.node, nodes.Name) and isinstance(getitem.arg, nodes.Const):
            found.add((getitem.node.name, str(getitem.arg.value)))
    return found


EXPRESSION_SPAN = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def rename_step_references(source: str, old: str, new: str) -> str:
    """`source` with `steps.old`, `steps['old']` and `steps["old"]` inside its expressions
    renamed to `new`; names that merely start with `old` (`steps.old_x`), attribute chains
    ending in `steps` (`x.steps.old`) and text outside `{{ }}` / `{% %}` stay as they are."""
    dotted = re.compile(rf"(?<![\w.])steps\s*\.\s*{re.escape(old)}(?!\w)")
    subscript = re.compile(rf"(?<![\w.])steps\s*\[\s*(['\"]){re.escape(old)}\1\s*\]")

    def rewrite(span: re.Match[str]) -> str:
        text = dotted.sub(f"steps.{new}", span.group(0))
        return subscript.sub(lambda m: f"steps[{m.group(1)}{new}{m.group(1)}]", text)

    return EXPRESSION_SPAN.sub(rewrite, source)


def rename_in_value(value: Any, old: str, new: str) -> Any:
    """`rename_step_references` applied to every string inside a JSON-like value."""
    if isinstance(value, str):
        return rename_step_references(value, old, new)
    if isinstance(value, dict):
        return {key: rename_in_value(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [rename_in_value(item, old, new) for item in value]
    return value


@lru_cache(maxsize=2048)
def _compiled_expression(expression: str) -> Any:
    return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)


@lru_cache(maxsize=2048)
def _compiled_template(source: str) -> Any:
    return ENVIRONMENT.from_string(source)


def render_string(source: str, context: Mapping[str, Any]) -> Any:
    """Render one string; a lone `{{ expr }}` keeps its native type (list, number, dict...)."""
    try:
        single = SINGLE_EXPRESSION.match(source)
        if single and "{{" not in single.group("expr") and "}}" not in single.group("expr"):
            compiled = _compiled_expression(single.group("expr"))
            value = compiled(**context)
            if isinstance(value, StrictUndefined):
                str(value)  # raises UndefinedError with the missing name
            return _cap_output(value)
        return _cap_output(_compiled_template(source).render(**context))
    except UndefinedError as exc:
        raise ExpressionError(f"undefined value: {exc.message}") from None
    except SecurityError as exc:
        raise ExpressionError(f"refused by the sandbox: {exc}") from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"expression syntax error: {exc.message}") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression too complex to evaluate") from None


def _cap_output(value: Any) -> Any:
    if callable(value):
        raise ExpressionError("an expression must produce data, not a function or method")
    if isinstance(value, str) and len(value) > MAX_OUTPUT_CHARS:
        raise ExpressionError(f"result is longer than {MAX_OUTPUT_CHARS} characters")
    return value


def render_value(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every expression inside a JSON value; errors carry the path of the failing field."""
    if isinstance(value, str):
        if not is_expression(value):
            return value
        try:
            return render_string(value, context)
        except ExpressionError as exc:
            raise ExpressionError(f"{path}: {exc}" if path else str(exc)) from None
    if isinstance(value, dict):
        return {
            key: render_value(item, context, f"{path}.{key}" if path else key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render_value(item, context, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def truthy(value: Any) -> bool:
    """Conditions rendered from text: 'false', '0', 'no', 'none' and '' are false."""
    if isinstance(value, str):
        return value.strip().lower() not in {"", "false", "0", "no", "none", "null"}
    return bool(value)
