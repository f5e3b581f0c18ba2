"""`wait`: pause for a duration or until a date, holding no worker while it waits.

The deadline is computed once, stored with the step, and the run is parked until then; a run
resumed after a restart reads the stored deadline, never recomputes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from workflows.actions.base import ActionInputs, ActionType, StepContext

MAX_WAIT = timedelta(days=366)


class WaitInputs(ActionInputs):
    seconds: float | None = Field(default=None, ge=0, le=MAX_WAIT.total_seconds())
    until: datetime | None = None

    @model_validator(mode="after")
    def one_of_seconds_or_until(self) -> WaitInputs:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of `seconds` or `until`")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("`until` needs a time zone, e.g. 2027-01-01T09:00:00+00:00")
        return self


class WaitAction(ActionType):
    name = "wait"
    label = "Wait"
    icon = "⏳"
    category = "structural"
    description = "Wait a number of seconds or until a date (up to a year), holding no worker."
    Inputs = WaitInputs

    def execute(self, ctx: StepContext, inputs: WaitInputs) -> Any:
        if "deadline" not in ctx.state:
            deadline = inputs.until or ctx.now() + timedelta(seconds=inputs.seconds or 0)
            ctx.state["deadline"] = deadline.isoformat()
        deadline = datetime.fromisoformat(ctx.state["deadline"])
        if ctx.now() < deadline:
            ctx.park(until=deadline, reason="wait")
        return {"waited_until": deadline.isoformat()}

    def summary(self, inputs: dict[str, Any]) -> str:
        if inputs.get("until"):
            return f"until {inputs['until']}"
        return f"{inputs.get('seconds', '?')} s"
