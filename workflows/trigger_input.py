"""Checks of what crosses a trigger: the body a run gets against the trigger's `json_schema`,
and what the run answers (a `respond` body, a child run's result) against its
`output_schema`."""

from __future__ import annotations

from typing import Any

from workflows.models import WorkflowVersion


def body_problems(schema: dict | None, body: Any, root: str = "body") -> list[dict[str, str]]:
    """Every failing field of `body`, as {"path", "message"}; empty when valid or no schema."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator  # only triggers with a schema need it

    # `format` (email, date-time, uri, uuid…) is checked too, not only annotated.
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body),
                    key=lambda e: list(map(str, e.absolute_path)))
    return [{"path": ".".join(map(str, e.absolute_path)) or root, "message": e.message}
            for e in errors]


def output_problems(trigger_settings: dict | None, value: Any, what: str) -> str:
    """Why `value` does not match the trigger's `output_schema`, in one message naming each
    failing path; "" when it matches or there is no output schema."""
    problems = body_problems((trigger_settings or {}).get("output_schema"), value, root=what)
    if not problems:
        return ""
    listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"{what} does not match the trigger's output_schema: {listed}{more}"


def input_schema(version: WorkflowVersion, trigger_type: str) -> dict | None:
    """The JSON Schema of the version's first trigger of that type, if it declares one."""
    trigger = version.triggers.filter(type=trigger_type).order_by("position").first()
    return (trigger.settings or {}).get("json_schema") if trigger else None
