"""`manual`: a person starts the run from the workflow page, or a client through the API."""

from __future__ import annotations

from typing import Any

from workflows.triggers.base import INPUT_SCHEMA, Problem, TriggerType, json_schema_problems


class ManualTrigger(TriggerType):
    name = "manual"
    label = "Manual"
    description = ("The Run form of the workflow page, or POST /api/workflows/<name>/runs; "
                   "a json_schema setting checks the input.")
    settings_fields = (INPUT_SCHEMA,)

    def check(self, values: dict[str, Any]) -> list[Problem]:
        return json_schema_problems(values)
