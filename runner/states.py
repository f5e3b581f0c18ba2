"""The run and step state machines: every allowed transition, listed once.

`runner.journal` calls `check_run_transition` / `check_step_transition` before writing any status,
so an impossible change (a completed step running again, a cancelled run completing) raises
instead of silently corrupting the record.
"""

from __future__ import annotations

from runner.models import RunStatus as R
from runner.models import StepStatus as S


class InvalidTransition(RuntimeError):
    """A status change that the state machine does not allow."""


RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    R.QUEUED: frozenset({R.RUNNING, R.WAITING, R.CANCELLED, R.FAILED}),
    R.RUNNING: frozenset({R.RUNNING, R.WAITING, R.COMPLETED, R.FAILED, R.CANCELLED, R.QUEUED}),
    R.WAITING: frozenset({R.RUNNING, R.QUEUED, R.CANCELLED, R.FAILED}),
    R.COMPLETED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
}

STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NOT_STARTED: frozenset({S.RUNNING, S.SKIPPED, S.CANCELLED}),
    # running → running: a run resumed on another worker restarts a step that never finished.
    S.RUNNING: frozenset(
        {S.RUNNING, S.COMPLETED, S.FAILED, S.WAITING, S.RETRYING, S.CANCELLED}
    ),
    S.WAITING: frozenset({S.WAITING, S.RUNNING, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.RETRYING: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset({S.REVERTED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
    S.REVERTED: frozenset(),
}

FINISHED_RUN_STATUSES = frozenset({R.COMPLETED, R.FAILED, R.CANCELLED})


def check_run_transition(old: str, new: str) -> None:
    if new not in RUN_TRANSITIONS[old]:
        raise InvalidTransition(f"run cannot go from {old} to {new}")


def check_step_transition(old: str | None, new: str) -> None:
    if old is None and new == S.NOT_STARTED:  # a step's first event, when its sequence starts
        return
    if new not in STEP_TRANSITIONS[old or S.NOT_STARTED]:
        raise InvalidTransition(f"step cannot go from {old or S.NOT_STARTED} to {new}")
