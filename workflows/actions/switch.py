"""`switch`: run the slot named after the value, or `default` when no case matches."""

from __future__ import annotations

from typing import Any

from workflows.actions.base import ActionInputs, ActionType, StepContext


class SwitchInputs(ActionInputs):
    value: Any


class SwitchAction(ActionType):
    name = "switch"
    label = "Switch"
    icon = "☰"
    category = "structural"
    description = "Run the case whose slot name equals the value, else the `default` slot."
    Inputs = SwitchInputs
    dynamic_slots = True

    def execute(self, ctx: StepContext, inputs: SwitchInputs) -> Any:
        case = str(inputs.value)
        result = ctx.run_slot(case, missing_ok=True)
        if result is None:
            result = ctx.run_slot("default", missing_ok=True)
            case = "default" if result is not None else ""
        return {"case": case or None}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"switch on {inputs.get('value', '')}"
