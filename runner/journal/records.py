"""The rows every journal write is made of: a run's status events, its steps' events and its
log lines, plus the lease's length. No other journal module builds these rows itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from runner import broadcast
from runner.models import LogLine, Run, RunStatus, StepEvent, StepStatus
from runner.states import check_step_transition

RUN_KEY = ""  # the step key of run-level events


class LeaseLost(RuntimeError):  # noqa: N818
    """This worker no longer owns the run; whatever it was doing must be dropped."""


def lease_delta() -> timedelta:
    """How long a lease lasts without being renewed."""
    return timedelta(seconds=settings.OWLGRID_LEASE_SECONDS)


def run_event(run: Run, status: str, **fields: Any) -> StepEvent:
    """A run-level event (step key `RUN_KEY`); a queued run's event says "not started"."""
    return StepEvent(
        run=run,
        step_key=RUN_KEY,
        action_name="",
        action_type="run",
        status=StepStatus.NOT_STARTED if status == RunStatus.QUEUED else status,
        **fields,
    )


def event_like(event: StepEvent, **changes: Any) -> StepEvent:
    """A new event for the same step, with some fields changed."""
    fields = {"run": event.run, "step_key": event.step_key, "action_name": event.action_name,
              "action_type": event.action_type, "status": str(event.status),
              "attempt": event.attempt, "inputs": event.inputs, "output": event.output}
    return StepEvent(**{**fields, **changes})


def set_fields(run: Run, fields: dict[str, Any]) -> None:
    """Mirror on the caller's instance what a write stored for the run."""
    for name, value in fields.items():
        setattr(run, name, value)


def checked_writes(events: list[dict[str, Any]], lines: list[dict[str, Any]],
                   response: dict[str, Any] | None) -> dict[str, Any]:
    """Check each event's transition (dropping its `previous` status) and return the run's
    columns written with them: the next log sequence number and the response."""
    for event in events:
        check_step_transition(event.pop("previous", None), event["status"])
    columns: dict[str, Any] = {}
    if lines:
        columns["next_log_seq"] = lines[-1]["seq"] + 1
    if response is not None:
        columns["response"] = response
    return columns


EVENT_DEFAULTS = {"attempt": 1, "inputs": None, "output": None, "error": None}


def insert_events(run: Run, worker: str, events: list[dict[str, Any]]) -> None:
    """Append step events, in order. Each dict holds step_key, action_name, action_type and
    status, optionally attempt, inputs, output, error and worker (else `worker`)."""
    if events:
        StepEvent.objects.bulk_create(
            [StepEvent(run_id=run.id, **{"worker": worker, **EVENT_DEFAULTS, **event})
             for event in events])


def insert_lines(run: Run, lines: list[dict[str, Any]]) -> None:
    """Append log lines; each dict holds seq and message, optionally step_key and level."""
    if lines:
        LogLine.objects.bulk_create(
            [LogLine(run_id=run.id, seq=line["seq"], step_key=line.get("step_key", ""),
                     level=line.get("level", "info"), message=line["message"])
             for line in lines])


def announce(run: Run, lines: list[dict[str, Any]], response: dict[str, Any] | None) -> None:
    """Once committed: the lines to live viewers, the response to a waiting caller."""
    if lines:
        broadcast.log_lines_on_commit(run.id, lines)
    if response is not None:
        broadcast.run_answer_on_commit(run.id, {"response": response})
