"""`set_variable`: store a value in `vars.<name>` for the steps after it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflows.actions.base import ActionInputs, ActionType, StepContext


class SetVariableInputs(ActionInputs):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", title="Variable name")
    value: Any = None


class SetVariableAction(ActionType):
    name = "set_variable"
    label = "Set variable"
    icon = "𝑥"
    category = "data"
    description = "Set `vars.<name>` to a value (expressions allowed)."
    Inputs = SetVariableInputs

    def execute(self, ctx: StepContext, inputs: SetVariableInputs) -> Any:
        ctx.set_variable(inputs.name, inputs.value)
        return {"name": inputs.name, "value": inputs.value}

    def replay(self, variables: dict[str, Any], output: Any) -> None:
        variables[output["name"]] = output["value"]

    def summary(self, inputs: dict[str, Any]) -> str:
        return f"vars.{inputs.get('name', '?')} = {inputs.get('value', '')}"
