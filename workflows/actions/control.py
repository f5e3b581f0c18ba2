"""`stop` ends the run successfully with a result; `fail` ends it as failed with a message."""

from __future__ import annotations

from typing import Any

from workflows.actions.base import ActionInputs, ActionType, StepContext, StopRun


class StopInputs(ActionInputs):
    result: Any = None


class FailInputs(ActionInputs):
    message: str = "failed by the workflow"


class StopAction(ActionType):
    name = "stop"
    label = "Stop"
    icon = "⏹"
    category = "structural"
    description = "End the run now as completed, with an optional result."
    Inputs = StopInputs

    def execute(self, ctx: StepContext, inputs: StopInputs) -> Any:
        raise StopRun(result=inputs.result)


class FailAction(ActionType):
    name = "fail"
    label = "Fail"
    icon = "✖"
    category = "structural"
    description = "End the run now as failed, with a message."
    Inputs = FailInputs

    def execute(self, ctx: StepContext, inputs: FailInputs) -> Any:
        raise StopRun(failed=True, message=inputs.message)

    def summary(self, inputs: dict[str, Any]) -> str:
        return str(inputs.get("message", ""))
