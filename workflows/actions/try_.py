"""`try`: run `try`; if it fails, run `catch` with the error in `error`, and carry on."""

from __future__ import annotations

from typing import Any

from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext


class TryAction(ActionType):
    name = "try"
    label = "Try / catch"
    icon = "🛡"
    category = "structural"
    description = "Run `try`; on failure run `catch`, where `error` describes what failed."
    Inputs = ActionInputs
    slots = ("try", "catch")

    def execute(self, ctx: StepContext, inputs: ActionInputs) -> Any:
        try:
            ctx.run_slot("try")
        except ActionError as error:
            ctx.log(f"caught: {error.message}", "warning")
            ctx.run_slot("catch", bindings={"error": error.as_dict()})
            return {"caught": error.as_dict()}
        return {"caught": None}
