"""`run`: a run of another workflow finishing, e.g. to react to its failure.

The finished run is matched by `runner.reactions`; the new run's body is its summary.
"""

from __future__ import annotations

from typing import Any

from workflows.triggers.base import Problem, SettingField, TriggerType

STATUSES = ("completed", "failed", "cancelled")


class RunTrigger(TriggerType):
    name = "run"
    label = "Another run finished"
    description = "A run of another workflow (or of any, with '*') ending in a chosen status."
    defaults = {"workflow": "*", "statuses": ["failed"]}
    input_fields = tuple(f"trigger.body.{key}" for key in (
        "run_id", "workflow", "status", "error", "result", "finished_at"))
    settings_fields = (
        SettingField("workflow", "Workflow (a name, or * for any)"),
        SettingField("statuses", "Ending in", "multichoice", STATUSES),
    )

    def check(self, values: dict[str, Any]) -> list[Problem]:
        problems: list[Problem] = []
        if not values.get("workflow"):
            problems.append(("workflow", "name the workflow whose runs are watched, or '*'"))
        statuses = values.get("statuses", ["failed"])
        if not isinstance(statuses, list) or not statuses or not set(statuses) <= set(STATUSES):
            problems.append(("statuses", "use a list of 'completed', 'failed' and 'cancelled'"))
        return problems
