"""`workflow`: another workflow's `trigger_workflow` action starts the run."""

from __future__ import annotations

from typing import Any

from workflows.triggers.base import (
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    Problem,
    TriggerType,
    json_schema_problems,
)


class WorkflowTrigger(TriggerType):
    name = "workflow"
    label = "Another workflow"
    description = ("Another workflow's trigger_workflow action; a json_schema setting checks "
                   "its payload, an output_schema the result it hands back.")
    input_fields = ("trigger.parent_run",)
    settings_fields = (INPUT_SCHEMA, OUTPUT_SCHEMA)

    def check(self, values: dict[str, Any]) -> list[Problem]:
        return json_schema_problems(values, ("json_schema", "output_schema"))
