"""The trigger catalogue: one module per trigger type, mapped by name in REGISTRY.

Adding a trigger type means one new module and one line here. Everything that lists trigger
types reads this registry: `Trigger.type`'s choices and check constraint, the workflow format's
JSON Schema enum, the settings checks, the editor's menu and the runs list's filter.
"""

from __future__ import annotations

from workflows.triggers import http, manual, record, run, schedule, workflow
from workflows.triggers.base import Problem, Starter, TriggerType

__all__ = ["REGISTRY", "Problem", "Starter", "TriggerType", "UnknownTriggerType",
           "get_trigger_type", "trigger_choices"]

REGISTRY: dict[str, TriggerType] = {
    trigger_type.name: trigger_type
    for trigger_type in (
        http.HttpTrigger(),
        schedule.ScheduleTrigger(),
        manual.ManualTrigger(),
        workflow.WorkflowTrigger(),
        record.RecordTrigger(),
        run.RunTrigger(),
    )
}


class UnknownTriggerType(KeyError):  # noqa: N818 - named like actions' UnknownActionType
    pass


def get_trigger_type(name: str) -> TriggerType:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(REGISTRY)
        raise UnknownTriggerType(f"unknown trigger type {name!r}; known types: {known}") from None


def trigger_choices() -> list[tuple[str, str]]:
    """(name, label) of every trigger type, in registry order: for fields, menus and filters."""
    return [(name, trigger_type.label) for name, trigger_type in REGISTRY.items()]
