"""Checks of what a trigger hands to a run: the body against the trigger's JSON Schema."""

from __future__ import annotations

from typing import Any

from workflows.models import WorkflowVersion


def body_problems(schema: dict | None, body: Any) -> list[dict[str, str]]:
    """Every failing field of `body`, as {"path", "message"}; empty when valid or no schema."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator  # only triggers with a schema need it

    # `format` (email, date-time, uri, uuid…) is checked too, not only annotated.
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body),
                    key=lambda e: list(map(str, e.absolute_path)))
    return [{"path": ".".join(map(str, e.absolute_path)) or "body", "message": e.message}
            for e in errors]


def input_schema(version: WorkflowVersion, trigger_type: str) -> dict | None:
    """The JSON Schema of the version's first trigger of that type, if it declares one."""
    trigger = version.triggers.filter(type=trigger_type).order_by("position").first()
    return (trigger.settings or {}).get("json_schema") if trigger else None
