"""`for_each`: run the `body` slot once per item, optionally several items at once."""

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

MAX_ITEMS = 10_000


class ForEachInputs(ActionInputs):
    items: list[Any] = Field(max_length=MAX_ITEMS)
    concurrency: int = Field(default=1, ge=1, le=32)


class ForEachAction(ActionType):
    name = "for_each"
    label = "For each"
    icon = "↻"
    category = "structural"
    description = "Run the body for each item; `item` and `index` hold the current one."
    Inputs = ForEachInputs
    slots = ("body",)

    def execute(self, ctx: StepContext, inputs: ForEachInputs) -> Any:
        calls: list[tuple[str, dict[str, Any] | None, str | None]] = [
            ("body", {"item": item, "index": index}, str(index))
            for index, item in enumerate(inputs.items)
        ]
        results = ctx.run_slots(calls, concurrency=inputs.concurrency)
        failures = [r for r in results if isinstance(r, ActionError)]
        if failures:
            raise failures[0]
        done = [r for r in results if isinstance(r, SlotResult)]  # all of them, by now
        return {"count": len(results), "outputs": [r.outputs for r in done]}

    def summary(self, inputs: dict[str, Any]) -> str:
        text = f"for each in {inputs.get('items', '')}"
        if inputs.get("concurrency", 1) != 1:
            text += f" ({inputs['concurrency']} at once)"
        return text
