"""Jinja2 expressions in action inputs, rendered in a locked-down sandbox.

`ImmutableSandboxedEnvironment` blocks attribute tricks (`__class__`, `__globals__`, `format`
on strings via `attr`), `StrictUndefined` turns typos into errors, and every render runs under
a time and size budget (workflows/expression_limits.py): what `*`, `**`, `%`, `range`, the
string filters and str methods would build is checked before it is built, and loops and calls
watch the clock, so that `{{ 9**9**9 }}`, `{{ 'x' * 10**9 }}` or a loop in a loop fail fast
instead of eating the worker. The context holds run data only.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workflows import expression_limits as limits
from workflows import taint
from workflows.expression_filters import capped_filters
from workflows.expression_limits import ExpressionLimit

MAX_RANGE = 100_000
MAX_POWER_EXPONENT = 1_000
MAX_INT_BITS = 128
EXPRESSION_MARK = re.compile(r"{{|{%")
SINGLE_EXPRESSION = re.compile(r"^\s*{{(?P<expr>.*?)}}\s*$", re.DOTALL)


class ExpressionError(ValueError):
    """An expression that does not parse, fails, or breaks a safety cap; the message says which.
    `field`: the path of the input that holds it, when known."""

    def __init__(self, message: str, *, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason or message


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
        size = limits.repeat_size(seq, count)
        if size is not None:
            limits.check_size(size, "repetition")
    return _checked_number(operator.mul(left, right))


def _safe_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        limits.check_printf(left, right)
    return _checked_number(operator.mod(left, right))


def _safe_binary(op: Any) -> Any:
    return lambda left, right: _checked_number(op(left, right))


def _safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range of {len(result)} items is above the limit of {MAX_RANGE}")
    return result


class BudgetedCodeGenerator(CodeGenerator):
    """Jinja's code generator (the documented `code_generator_class` hook), with every `for`
    loop's iterable read through the budget's clock and every `~` concatenation's result
    checked against the size budget."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(nodes.EnvironmentAttribute("checked_loop"), [node.iter], [],
                               None, None)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # `a ~ b`: joined by taint.join (a secret's part stays marked), then size-checked.
        self.write("environment.sized(environment.concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write(")))")


# str methods that build strings from a size given as an argument.
PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
REFUSED_METHODS = frozenset({"translate", "maketrans", "expandtabs"})


class OwlGridSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "-", "//", "/", "%"})
    code_generator_class = BudgetedCodeGenerator
    checked_loop = staticmethod(limits.checked_loop)
    sized = staticmethod(limits.sized)
    # How Jinja joins the output of macros, blocks and `{% set %}` blocks (NativeEnvironment
    # sets it too): a secret inside stays marked.
    concat = staticmethod(taint.join)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits.check_time()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(owner, getattr(__obj, "__name__", ""), args)
        result = super().call(__context, __obj, *args, **kwargs)
        return taint.propagate(result, owner, *args, *kwargs.values())

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in {"format", "format_map"}:
            limits.check_format_spec(owner)
        return super().wrap_str_format(value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # JSON data first: `trigger.body.items` is the "items" key, not the dict method.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        found = super().getattr(obj, attribute)
        if isinstance(found, Undefined) and isinstance(obj, Mapping):
            # Still undefined (`| default(...)` and `is defined` work); its error, if it is
            # used, also names the fields the object has (Jinja's documented `hint`).
            fields = json.dumps([str(key) for key in obj][:MAX_FIELDS_LISTED + 1])
            return self.undefined(obj=obj, name=attribute, hint=(
                f"'dict object' has no attribute '{attribute}'{FIELDS_MARK}{len(obj)} {fields}"))
        return found

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        handlers = {
            "**": _safe_pow,
            "*": _safe_mul,
            "+": _safe_add,
            "-": _safe_binary(operator.sub),
            "//": _safe_binary(operator.floordiv),
            "/": _safe_binary(operator.truediv),
            "%": _safe_mod,
        }
        limits.check_time()
        return taint.propagate(handlers[operator_name](left, right), left, right)


def _check_str_method(text: str, name: str, args: tuple) -> None:
    """Refuse a str method call that would build an oversized string."""
    if name in REFUSED_METHODS:
        raise SecurityError(f"str.{name} is not available in expressions")
    if name in PADDING_METHODS and args and isinstance(args[0], int):
        limits.check_size(args[0], f"{name}() result")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        count = text.count(args[0]) if args[0] else len(text) + 1
        limits.check_size(len(text) + count * max(len(args[1]) - len(args[0]), 0),
                          "replace() result")
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], str) else list(args[0])
        limits.check_size(sum(len(str(i)) for i in items) + len(text) * len(items),
                          "join() result")


def _safe_add(left: Any, right: Any) -> Any:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        limits.check_size(len(left) + len(right))
    return _checked_number(operator.add(left, right))


def _build_environment() -> OwlGridSandbox:
    env = OwlGridSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals = {"range": _safe_range, "dict": dict}
    # `attr` reaches methods by name (the route of CVE-2024-56326 style escapes): not offered.
    # `urlize` repeats its arguments once per link found, beyond what a budget can foresee.
    for name in ("attr", "urlize"):
        del env.filters[name]
    env.filters.update(capped_filters(dict(env.filters)))
    env.filters["fromjson"] = json.loads
    env.filters = {name: taint.tainting_filter(function) for name, function in env.filters.items()}
    return env


ENVIRONMENT = _build_environment()


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and EXPRESSION_MARK.search(value) is not None


def syntax_error(source: str) -> str | None:
    """Return a readable message when `source` does not parse, else None."""
    try:
        ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        return f"expression syntax error: {plain_syntax(exc.message or '')} (line {exc.lineno})"
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
    """Render one string; a lone `{{ expr }}` keeps its native type (list, number, dict...).
    Under the budget of the surrounding `expression_limits.budget()`, else the defaults."""
    try:
        with limits.ensure_budget():
            return _render(source, context)
    except ExpressionLimit as exc:
        raise ExpressionError(str(exc)) from None
    except UndefinedError as exc:
        raise ExpressionError(plain_undefined(exc.message or "")) from None
    except SecurityError as exc:
        raise ExpressionError(f"refused by the sandbox: {exc}") from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"expression syntax error: {plain_syntax(exc.message or '')}"
                              ) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise ExpressionError("expression nested too deeply (recursion limit)") from None
    except MemoryError:
        raise ExpressionError("the process's memory ceiling was reached") from None


SYNTAX_WORDS = [
    (re.compile(r"^expected token 'end of print statement', got '(?P<got>.*)'$"),
     "`{{{{ }}}}` holds more than one expression: an operator, a comma or a quote is missing "
     "before '{got}'"),
    (re.compile(r"^Unexpected end of template.*needs to be closed is '(?P<got>\w+)'.*$",
                re.DOTALL),
     "the expression is not closed: `{{% {got} %}}` needs its `{{% end{got} %}}`"),
    (re.compile(r"^unexpected end of template.*$", re.DOTALL | re.IGNORECASE),
     "the expression is not closed: a `}}}}`, `%}}`, `{{% endfor %}}` or `{{% endif %}}` is "
     "missing"),
    (re.compile(r"^unexpected '(?P<got>[^']*)'$"), "'{got}' is not expected there"),
    (re.compile(r"^Encountered unknown tag '(?P<got>[^']*)'.*$", re.DOTALL),
     "`{{% {got} %}}` is not a statement expressions know (for, if, set, macro, filter)"),
]


def plain_syntax(message: str) -> str:
    """Jinja's words for a syntax error, in the user's when we know them."""
    for pattern, words in SYNTAX_WORDS:
        if match := pattern.match(message):
            return words.format(**match.groupdict())
    return message


UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']*)' is undefined$")
FIELDS_MARK = "; fields: "
MAX_FIELDS_LISTED = 8
UNDEFINED_FIELD = re.compile(r"^'(?P<kind>[\w ]+) object' has no attribute '(?P<name>[^']*)'"
                             r"(?:; fields: (?P<count>\d+) (?P<fields>\[.*\]))?$", re.DOTALL)
UNDEFINED_ITEM = re.compile(r"^'?(?P<kind>[\w ]+) object'? has no element (?P<name>.+)$")


def plain_undefined(message: str) -> str:
    """Jinja's words for a missing value, in the user's."""
    if match := UNDEFINED_NAME.match(message):
        return (f"`{match['name']}` is undefined: expressions can read trigger, steps, vars, "
                "env and run")
    if match := UNDEFINED_FIELD.match(message):
        kind = "object" if match["kind"] == "dict" else match["kind"]
        present = json.loads(match["fields"]) if match["fields"] else []
        if not present:
            return f"`{match['name']}` is undefined: the {kind} has no field of that name"
        listed = ", ".join(f"`{name}`" for name in present[:MAX_FIELDS_LISTED])
        more = int(match["count"]) - MAX_FIELDS_LISTED
        close = difflib.get_close_matches(match["name"], present, n=1)
        return (f"`{match['name']}` is undefined: the {kind} has {listed}"
                + (f" and {more} more" if more > 0 else "")
                + (f" (did you mean `{close[0]}`?)" if close else ""))
    if match := UNDEFINED_ITEM.match(message):
        return f"item {match['name']} is undefined: the {match['kind']} has no such item"
    return f"undefined value: {message}"


def _render(source: str, context: Mapping[str, Any]) -> Any:
    single = SINGLE_EXPRESSION.match(source)
    if single and "{{" not in single.group("expr") and "}}" not in single.group("expr"):
        compiled = _compiled_expression(single.group("expr"))
        return _cap_output(compiled(**context))
    return limits.checked_output(_compiled_template(source).generate(**context))


def _cap_output(value: Any) -> Any:
    _refuse_undefined(value)
    if callable(value):
        raise ExpressionError("an expression must produce data, not a function or method")
    return limits.sized(value)


def _refuse_undefined(value: Any) -> None:
    """A missing name inside a built value (`{{ {"id": item.idd} }}`) fails here, named, not
    later as data that cannot be stored."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming what is missing
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_undefined(item)


def render_value(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every expression inside a JSON value; errors carry the path of the failing field."""
    if isinstance(value, str):
        if not is_expression(value):
            return value
        try:
            return render_string(value, context)
        except ExpressionError as exc:
            raise ExpressionError(f"{path}: {exc}" if path else str(exc), field=path,
                                  reason=exc.reason) from None
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
