"""Attack: expression sandbox escapes and resource bombs are refused with clear errors, fast."""

from __future__ import annotations

import time

import pytest

from workflows.expressions import ExpressionError, render_string, render_value, syntax_error

CONTEXT = {"trigger": {"body": {"items": [1, 2, 3], "name": "Ada"}}, "vars": {}, "steps": {},
           "env": {"API_BASE": "https://api.example.com"}}


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "refused"),
        ("{{ 'x'|attr('format') }}", "attr"),
        ("{{ 'x'.format }}", "must produce data"),
        ("{{ 'x' * 10**9 }}", "repetition"),
        ("{{ 9**9**9 }}", "too large"),
        ("{{ range(10**8)|list }}", "range"),
        ("{{ lipsum }}", "undefined"),
        ("{{ config }}", "undefined"),
        ("{{ self.__init__ }}", "unsafe"),
        ("{{ trigger.body.items.append(4) }}", "unsafe"),
        ("{{ trigger.body.name.format_map }}", "must produce data"),
    ],
)
def test_sandbox_refuses_escapes_and_bombs_fast(source, fragment):
    began = time.perf_counter()
    with pytest.raises(ExpressionError) as caught:
        render_string(source, CONTEXT)
    assert time.perf_counter() - began < 0.5
    assert fragment in str(caught.value)


def test_single_expression_keeps_its_native_type():
    assert render_string("{{ trigger.body.items }}", CONTEXT) == [1, 2, 3]
    assert render_string("{{ trigger.body.items | length > 2 }}", CONTEXT) is True
    assert render_string("Hello {{ trigger.body.name }}", CONTEXT) == "Hello Ada"


def test_errors_carry_the_field_path():
    with pytest.raises(ExpressionError) as caught:
        render_value({"headers": {"X-Id": "{{ steps.fetch.output }}"}}, CONTEXT)
    assert str(caught.value).startswith("headers.X-Id:")
    assert "fetch" in str(caught.value)


def test_syntax_errors_are_reported_without_rendering():
    assert "syntax error" in syntax_error("{{ trigger.body. }}")
    assert syntax_error("{{ env.API_BASE }}/users") is None


def test_context_holds_run_data_only():
    for name in ("settings", "os", "environ", "request", "__builtins__"):
        with pytest.raises(ExpressionError):
            render_string("{{ %s }}" % name, CONTEXT)  # noqa: UP031
