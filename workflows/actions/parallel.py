"""`parallel`: run every branch slot at once, for activities that do not depend on each other.

A branch whose first-level failure should not fail the block is marked with the branch
actions' own `continue_on_error`; any other failing branch fails the block once all are done.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.actions.base import (
    ActionError,
    ActionInputs,
    ActionType,
    SlotResult,
    StepContext,
)


class ParallelInputs(ActionInputs):
    concurrency: int = Field(default=8, ge=1, le=32)


class ParallelAction(ActionType):
    name = "parallel"
    label = "Parallel"
    icon = "⇉"
    category = "structural"
    description = "Run each branch at the same time and wait for all of them."
    Inputs = ParallelInputs
    dynamic_slots = True

    def execute(self, ctx: StepContext, inputs: ParallelInputs) -> Any:
        branches = ctx.slot_names()
        results = ctx.run_slots([(b, None, b) for b in branches], concurrency=inputs.concurrency)
        failures = [r for r in results if isinstance(r, ActionError)]
        if failures:
            raise failures[0]
        done = [r for r in results if isinstance(r, SlotResult)]  # all of them, by now
        return {"branches": {r.slot: r.outputs for r in done}}

    def summary(self, inputs: dict[str, Any]) -> str:
        return "run branches in parallel"
