"""What the interpreter keeps of a run while it walks the plan: the journal's record of each
step, the completed steps a failure may revert, and the scope expressions read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.models import StepStatus


@dataclass
class StepRecord:
    """A step's state as the journal knows it: its latest event."""

    status: str
    attempt: int
    inputs: Any = None
    output: Any = None
    error: Any = None

    @property
    def state(self) -> dict[str, Any]:
        if self.status == StepStatus.WAITING and isinstance(self.output, dict):
            return dict(self.output.get("state") or {})
        return {}


@dataclass
class Completed:
    key: str
    node: dict[str, Any]
    inputs: Any
    output: Any


@dataclass
class Scope:
    """What expressions see; `steps` is shared except inside a loop iteration."""

    trigger: Any
    vars: dict[str, Any]
    steps: dict[str, Any]
    env: dict[str, Any]
    run: dict[str, Any]
    bindings: dict[str, Any] = field(default_factory=dict)

    def as_context(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "vars": self.vars,
            "steps": self.steps,
            "env": self.env,
            "run": self.run,
            **self.bindings,
        }

    def child(self, bindings: dict[str, Any] | None, isolated: bool) -> Scope:
        return Scope(
            trigger=self.trigger,
            vars=self.vars,
            steps=dict(self.steps) if isolated else self.steps,
            env=self.env,
            run=self.run,
            bindings={**self.bindings, **(bindings or {})},
        )


def attempt_for(record: StepRecord | None) -> int:
    if record is None:
        return 1
    if record.status == StepStatus.RETRYING:
        return record.attempt + 1
    return record.attempt


def error_kwargs(error: Any) -> dict[str, Any]:
    error = error or {}
    return {"message": error.get("message", "failed"), "kind": error.get("type", "error"),
            "retryable": bool(error.get("retryable", False))}
