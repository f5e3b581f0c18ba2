"""The contract every action type fulfils, and the context the runner hands to it.

An action type is one module: its input spec (a pydantic model), how it executes, how it
reverts and how it summarises itself in the editor. `workflows` only describes; the runner
implements `StepContext` and calls `execute`. Structural types (if, for_each, ...) drive their
children through the context's `run_slot` / `run_slots`, so the interpreter stays generic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from workflows.expressions import is_expression, syntax_error

SLOT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,62}$")


class ActionInputs(BaseModel):
    """Base of every input spec: unknown fields are an error, not silently ignored."""

    # A number an expression produced is accepted where text is expected (a header, a URL
    # part): `{{ trigger.body.id }}` in a header sends "7".
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class InputProblem(ValueError):
    """A rule across fields whose message belongs at one of them (shown at that field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class ActionError(Exception):
    """A structured step failure (kind, message, retryable): stored and shown, never a traceback."""

    def __init__(
        self, message: str, *, kind: str = "error", retryable: bool = False, **details: Any
    ):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.details = details
        # The step that failed first (its key and block name), set when it is recorded: a
        # branch or loop the error passes through records only that a block inside failed.
        self.failed_step = ""
        self.failed_block = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "message": self.message,
            "retryable": self.retryable,
            **({"details": self.details} if self.details else {}),
        }


class StopRun(Exception):  # noqa: N818 - a control signal, not an error
    """Raised by `stop`: the run ends now as completed (or failed for `fail`) with a result."""

    def __init__(self, *, result: Any = None, failed: bool = False, message: str = ""):
        super().__init__(message or "stopped")
        self.result = result
        self.failed = failed
        self.message = message


class Park(Exception):  # noqa: N818 - a control signal
    """Suspend the run until `until` (or until woken); the worker is released."""

    def __init__(self, *, until: datetime | None, reason: str):
        super().__init__(reason)
        self.until = until
        self.reason = reason


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as bound in the run's environment; `secrets` never reach logs or outputs."""

    name: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


@dataclass
class SlotResult:
    """What running the children of one slot produced."""

    slot: str
    outputs: dict[str, Any]


class StepContext(Protocol):
    """What the runner offers an executing action. Implemented in `runner.engine`."""

    run_id: str
    step_key: str
    attempt: int
    idempotency_key: str
    environment_name: str | None
    environment_id: int | None
    state: dict[str, Any]
    deadline: float | None  # time.monotonic() by which the step must end (its timeout)

    def time_left(self, limit: float) -> float: ...

    def now(self) -> datetime: ...

    def log(self, message: str, level: str = "info") -> None: ...

    def connection(self, name: str, kind: str) -> ConnectionInfo: ...

    def secret_values(self) -> list[str]: ...

    def set_variable(self, name: str, value: Any) -> None: ...

    def slot_names(self) -> list[str]: ...

    def run_slot(
        self,
        slot: str,
        *,
        bindings: dict[str, Any] | None = None,
        key: str | None = None,
        missing_ok: bool = False,
    ) -> SlotResult | None: ...

    def run_slots(
        self, calls: list[tuple[str, dict[str, Any] | None, str | None]], *, concurrency: int
    ) -> list[SlotResult | ActionError]: ...

    def park(self, *, until: datetime | None, reason: str) -> None: ...

    def respond(self, *, status: int, headers: dict[str, str], body: Any) -> None: ...

    def start_child_run(self, *, workflow: str, payload: Any, wait: bool) -> dict[str, Any]: ...

    def acquire_lock(self, name: str) -> bool: ...

    def release_lock(self, name: str) -> None: ...

    def approval_decision(self, *, group: str) -> dict[str, Any] | None: ...


class ActionType:
    """One kind of action. Subclasses set the class attributes and override `execute`."""

    name: ClassVar[str]
    label: ClassVar[str]
    icon: ClassVar[str] = "•"
    category: ClassVar[str] = "resource"  # "structural", "data" or "resource"
    description: ClassVar[str] = ""
    Inputs: ClassVar[type[ActionInputs]] = ActionInputs
    slots: ClassVar[tuple[str, ...]] = ()
    dynamic_slots: ClassVar[bool] = False  # switch cases and parallel branches are named freely
    # Inputs left unrendered so the type renders them itself (e.g. per loop item).
    raw_inputs: ClassVar[tuple[str, ...]] = ()

    def execute(self, ctx: StepContext, inputs: Any) -> Any:
        raise ActionError(f"{self.name} cannot be executed", kind="not_executable")

    def revert(self, ctx: StepContext, inputs: Any, output: Any) -> Any:
        """Undo a completed step; the default has nothing to undo."""
        return None

    def retry_safe(self, inputs: Any) -> bool:
        """Whether a call that timed out, and so may have taken effect, may be made again."""
        return False

    def replay(self, variables: dict[str, Any], output: Any) -> None:
        """Re-apply a completed step's effect on run variables when a run is resumed."""

    def summary(self, inputs: dict[str, Any]) -> str:
        return ""

    def allows_slot(self, slot: str) -> bool:
        if self.dynamic_slots:
            return SLOT_NAME.match(slot) is not None
        return slot in self.slots

    def validate_definition(self, inputs: Any) -> list[tuple[str, str]]:
        """Check inputs as written in a definition: (path, message) pairs, empty when valid.

        Values holding expressions are checked for syntax only, since their type is known only
        once rendered; every literal value is checked against the spec.
        """
        if not isinstance(inputs, dict):
            return [("", "inputs must be an object")]
        problems = [
            (path, message)
            for path, value in walk_strings(inputs, "")
            if is_expression(value) and (message := syntax_error(value))
        ]
        literal = {k: v for k, v in inputs.items() if not _holds_expression(v)}
        expression_fields = set(inputs) - set(literal)
        try:
            self.Inputs.model_validate(literal)
        except ValidationError as exc:
            for error in exc.errors():
                location = [str(part) for part in error["loc"]]
                message = error["msg"]
                cause = (error.get("ctx") or {}).get("error")
                if not location and isinstance(cause, InputProblem):
                    location, message = [cause.field], str(cause)
                if location and location[0] in expression_fields:
                    continue
                if not location and expression_fields:
                    continue  # a rule across fields, some known only once rendered
                if error["type"] == "missing" and location and location[0] in expression_fields:
                    continue
                problems.append((_dotted(location), message))
        return problems

    def parse_inputs(self, rendered: dict[str, Any]) -> Any:
        """Validate rendered inputs right before execution; raises ActionError naming fields."""
        try:
            return self.Inputs.model_validate(rendered)
        except ValidationError as exc:
            details = "; ".join(
                f"{_dotted([str(p) for p in e['loc']])}: {e['msg']}" for e in exc.errors()
            )
            raise ActionError(f"invalid inputs: {details}", kind="invalid_inputs") from None


def _dotted(location: list[str]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


def _holds_expression(value: Any) -> bool:
    if isinstance(value, str):
        return is_expression(value)
    if isinstance(value, dict):
        return any(_holds_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_expression(v) for v in value)
    return False


def walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its path (`a.b[2]`)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]")
