"""`approval`: park the run until a member of a security group approves or rejects it.

With a timeout, the chosen outcome applies when nobody acted in time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from workflows.actions.base import ActionError, ActionInputs, ActionType, StepContext


class ApprovalInputs(ActionInputs):
    group: str = Field(min_length=1)
    message: str = ""
    timeout_seconds: float | None = Field(default=None, gt=0, le=366 * 86400)
    on_timeout: Literal["approve", "reject"] = "reject"


class ApprovalAction(ActionType):
    name = "approval"
    label = "Approval"
    icon = "✋"
    category = "structural"
    description = "Wait for a member of a security group to approve or reject."
    Inputs = ApprovalInputs

    def execute(self, ctx: StepContext, inputs: ApprovalInputs) -> Any:
        decision = ctx.approval_decision(group=inputs.group)
        if decision is None:
            if "deadline" not in ctx.state and inputs.timeout_seconds:
                timeout_at = ctx.now() + timedelta(seconds=inputs.timeout_seconds)
                ctx.state["deadline"] = timeout_at.isoformat()
            deadline = ctx.state.get("deadline")
            if deadline is None or ctx.now() < datetime.fromisoformat(deadline):
                if "requested" not in ctx.state:
                    ctx.state["requested"] = True
                    ctx.log(f"waiting for approval by {inputs.group}: {inputs.message}")
                ctx.park(
                    until=datetime.fromisoformat(deadline) if deadline else None,
                    reason="approval",
                )
            decision = {"decision": inputs.on_timeout, "by": None, "comment": "timed out"}
        if decision["decision"] != "approve":
            raise ActionError(
                f"rejected{' by ' + decision['by'] if decision.get('by') else ''}: "
                f"{decision.get('comment') or 'no comment'}",
                kind="rejected",
                decision=decision,
            )
        return decision

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"approval by {inputs.get('group', '?')}"
