"""`if`: run the `then` slot when the condition is true, else the `else` slot."""

from __future__ import annotations

from typing import Any

from workflows.actions.base import ActionInputs, ActionType, StepContext
from workflows.expressions import truthy


class IfInputs(ActionInputs):
    condition: Any


class IfAction(ActionType):
    name = "if"
    label = "If"
    icon = "◇"
    category = "structural"
    description = "Run `then` when the condition is true, otherwise `else`."
    Inputs = IfInputs
    slots = ("then", "else")

    def execute(self, ctx: StepContext, inputs: IfInputs) -> Any:
        branch = "then" if truthy(inputs.condition) else "else"
        ctx.run_slot(branch)
        return {"branch": branch}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"if {inputs.get('condition', '')}"
