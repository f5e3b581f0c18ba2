"""Expressions: what a user who typed a wrong name or path is told."""

from __future__ import annotations

import pytest

from workflows.expressions import ExpressionError, render_value, syntax_error

CONTEXT = {"trigger": {"body": {"order": {"id": 7}, "items": [1, 2]}}, "steps": {}, "vars": {},
           "env": {}, "run": {}}


@pytest.mark.parametrize(("source", "told"), [
    ('{{ {"id": trigger.body.orders} }}',
     "`orders` is undefined: the object has `order`, `items` (did you mean `order`?)"),
    ("{{ [trigger.body.order.idd] }}", "`idd` is undefined: the object has `id` (did you mean "
                                       "`id`?)"),
    ("{{ trigger.body.items[5] }}", "item 5 is undefined: the list has no such item"),
    ("{{ tigger.body }}", "`tigger` is undefined: expressions can read trigger, steps"),
    ("id={{ trigger.body.nope }}", "`nope` is undefined"),
])
def test_a_missing_name_or_field_is_named_in_plain_words(source, told):
    """Even inside a value the expression builds: never data that cannot be stored."""
    with pytest.raises(ExpressionError) as raised:
        render_value({"json": source}, CONTEXT)
    assert told in str(raised.value)
    assert raised.value.field == "json"


def test_a_long_object_is_listed_in_part():
    context = {**CONTEXT, "trigger": {"body": {f"f{n}": n for n in range(20)}}}
    with pytest.raises(ExpressionError) as raised:
        render_value("{{ trigger.body.zz }}", context)
    assert "the object has `f0`, `f1`, `f2`, `f3`, `f4`, `f5`, `f6`, `f7` and 12 more" in str(
        raised.value)


def test_a_built_value_with_every_name_present_keeps_its_types():
    assert render_value('{{ {"id": trigger.body.order.id, "n": trigger.body.items} }}',
                        CONTEXT) == {"id": 7, "n": [1, 2]}


@pytest.mark.parametrize(("source", "told"), [
    ("{{ trigger.body.id x }}", "holds more than one expression: an operator, a comma or a "
                                "quote is missing before 'x'"),
    ("{{ trigger.body.id", "the expression is not closed"),
    ("{% for x in y %}{{ x }}", "the expression is not closed"),
    ("{% loop x %}{% endloop %}", "`{% loop %}` is not a statement expressions know"),
])
def test_syntax_errors_are_told_in_plain_words(source, told):
    assert told in syntax_error(source)
