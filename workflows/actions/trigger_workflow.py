"""`trigger_workflow`: start another workflow in the same environment, and wait for it or not.

A chain deeper than OWLGRID_MAX_RUN_DEPTH fails with `depth_limit`, which stops A → B → A loops.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, StepContext


class TriggerWorkflowInputs(ActionInputs):
    workflow: str = Field(min_length=1, max_length=63)
    payload: Any = None
    wait: bool = True


class TriggerWorkflowAction(ActionType):
    name = "trigger_workflow"
    label = "Trigger workflow"
    icon = "⤷"
    category = "resource"
    description = "Start a run of another workflow; with `wait`, its result is the output."
    Inputs = TriggerWorkflowInputs

    def execute(self, ctx: StepContext, inputs: TriggerWorkflowInputs) -> Any:
        return ctx.start_child_run(workflow=inputs.workflow, payload=inputs.payload,
                                   wait=inputs.wait)

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"run {inputs.get('workflow', '?')}{' and wait' if inputs.get('wait', True) else ''}"
