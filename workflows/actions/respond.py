"""`respond`: the HTTP response of a synchronous HTTP trigger (status, headers, body)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, StepContext


class RespondInputs(ActionInputs):
    status: int = Field(default=200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None


class RespondAction(ActionType):
    name = "respond"
    label = "Respond"
    icon = "↩"
    category = "data"
    description = "Answer the HTTP caller of a synchronous trigger."
    Inputs = RespondInputs

    def execute(self, ctx: StepContext, inputs: RespondInputs) -> Any:
        ctx.respond(status=inputs.status, headers=inputs.headers, body=inputs.body)
        return {"status": inputs.status, "headers": inputs.headers, "body": inputs.body}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"respond {inputs.get('status', 200)}"
