"""`log`: write a line to the run's log, attached to this step."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, StepContext


class LogInputs(ActionInputs):
    message: Any
    level: Literal["debug", "info", "warning", "error"] = "info"
    repeat: int = Field(default=1, ge=1, le=100_000)


class LogAction(ActionType):
    name = "log"
    label = "Log"
    icon = "✎"
    category = "data"
    description = "Write a message to the run log."
    Inputs = LogInputs

    def execute(self, ctx: StepContext, inputs: LogInputs) -> Any:
        message = inputs.message if isinstance(inputs.message, str) else str(inputs.message)
        for _ in range(inputs.repeat):
            ctx.log(message, inputs.level)
        return {"message": message, "level": inputs.level}

    def summary(self, inputs: dict[str, Any]) -> str:
        return str(inputs.get("message", ""))[:80]
