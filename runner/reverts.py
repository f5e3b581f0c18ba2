"""Compensation: when a run fails, the completed steps that have a revert are undone, newest
first (TaskFlow's revert). A revert that fails is logged and the others still run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.context import StepCtx
from runner.models import StepStatus
from runner.scope import Completed
from workflows.actions import get_action_type
from workflows.actions.base import ActionError, ActionType
from workflows.expressions import ExpressionError, render_value

if TYPE_CHECKING:
    from runner.engine import Engine


def revert_completed(engine: Engine) -> None:
    for item in reversed(list(engine.completed)):
        action_type = get_action_type(item.node["type"])
        spec = item.node.get("revert")
        if not spec and type(action_type).revert is ActionType.revert:
            continue
        try:
            output = run_revert(engine, item, spec)
        except (ActionError, ExpressionError) as error:
            engine.recorder.log(item.key, "error", f"revert of {item.node['name']} failed: {error}")
            continue
        engine.record(item.key, item.node, StepStatus.REVERTED, StepStatus.COMPLETED, 1,
                      inputs=item.inputs, output=engine.recorder.mask(output))
        engine.recorder.log(item.key, "warning", f"reverted {item.node['name']}")
        engine.recorder.flush()


def run_revert(engine: Engine, item: Completed, spec: dict | None) -> Any:
    """The step's own `revert` block when it has one, else its action type's revert."""
    ctx = StepCtx(engine, item.node, item.key + "#revert", 1, {}, None, "")
    if spec:
        revert_type = get_action_type(spec["type"])
        context = {"output": engine.sealer.hydrate(item.output),
                   "inputs": engine.sealer.hydrate(item.inputs), "vars": engine.vars,
                   "trigger": engine.run.trigger_input, "env": engine.bindings.env}
        try:
            with engine.expression_budget():
                rendered = render_value(spec.get("inputs", {}), context)
        except ExpressionError as exc:
            raise ActionError(f"revert inputs: {exc}", kind="expression") from None
        parsed = revert_type.parse_inputs(rendered)
        return revert_type.execute(ctx, parsed)
    action_type = get_action_type(item.node["type"])
    parsed = action_type.parse_inputs(engine.sealer.hydrate(item.inputs))
    return action_type.revert(ctx, parsed, engine.sealer.hydrate(item.output))
