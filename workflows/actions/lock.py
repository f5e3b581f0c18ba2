"""`lock`: hold a named lock around the children, across all runs and workers.

A run that finds the lock taken is parked (holding no worker) and woken in arrival order when
the holder releases it; a lock held by a dead worker is released with its lease.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, Park, StepContext


class LockInputs(ActionInputs):
    name: str = Field(min_length=1, max_length=255)


class LockAction(ActionType):
    name = "lock"
    label = "Lock"
    icon = "🔒"
    category = "structural"
    description = "Run the body while holding a named lock; other runs wait their turn."
    Inputs = LockInputs
    slots = ("body",)

    def execute(self, ctx: StepContext, inputs: LockInputs) -> Any:
        if not ctx.acquire_lock(inputs.name):
            ctx.park(until=None, reason=f"lock:{inputs.name}")
        try:
            ctx.run_slot("body")
        except Park:
            raise  # the run waits inside the lock and keeps it
        except BaseException:
            ctx.release_lock(inputs.name)
            raise
        ctx.release_lock(inputs.name)
        return {"lock": inputs.name}

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"lock {inputs.get('name', '')}"
