"""A trigger's input schema, as callers meet it."""

from __future__ import annotations

import pytest

from workflows.trigger_input import body_problems

SCHEMA = {"type": "object", "properties": {
    "email": {"type": "string", "format": "email"},
    "at": {"type": "string", "format": "date-time"},
    "site": {"type": "string", "format": "uri"},
    "id": {"type": "string", "format": "uuid"}}}


@pytest.mark.parametrize(("field", "bad", "good"), [
    ("email", "nope", "ops@example.com"),
    ("at", "yesterday", "2026-12-07T18:00:00Z"),
    ("site", "not a uri", "https://example.com/a"),
    ("id", "x", "0b6f4c1e-9c1f-4a8e-8d51-1b2f3c4d5e6f"),
])
def test_formats_are_enforced_not_only_described(field, bad, good):
    assert body_problems(SCHEMA, {field: bad}) == [
        {"path": field, "message": f"{bad!r} is not a {SCHEMA['properties'][field]['format']!r}"}]
    assert body_problems(SCHEMA, {field: good}) == []
