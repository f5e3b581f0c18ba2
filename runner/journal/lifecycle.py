"""A run leaving its executor: parked until a deadline or a wake-up, finished, or cancelled.

The end of a run is one fenced transaction: the run's final columns (written by the fence
itself), its last step's events and lines, its status event and the release of its locks.
Whoever waited on it (a lock or slot waiter, a parent run, a synchronous caller, run-finished
reactions) hears of it only after that commit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from runner import broadcast
from runner.journal import transactions
from runner.journal.locks import concurrency_blocked, lock_is_free_for, release_run_locks
from runner.journal.records import (
    RUN_KEY,
    announce,
    checked_writes,
    insert_events,
    insert_lines,
    run_event,
    set_fields,
)
from runner.journal.runs import requeue, wake, wake_first_waiter
from runner.journal.steps import fence
from runner.models import Run, RunStatus, StepEvent, StepStatus
from runner.reactions import run_finished
from runner.states import FINISHED_RUN_STATUSES, check_run_transition

logger = logging.getLogger("owlgrid.runner")


def park(run: Run, worker: str, *, until: datetime | None, reason: str) -> None:
    """Release the worker: the run waits in the database until its deadline or a wake-up."""
    check_run_transition(run.status, RunStatus.WAITING)
    fields = {"status": RunStatus.WAITING, "wake_at": until, "status_reason": reason[:200],
              "waiting_since": run.waiting_since or timezone.now(), "lease_owner": "",
              "lease_expires_at": None}
    with transactions.atomic():
        fence(run, worker, **fields)
        run_event(run, RunStatus.WAITING).save(force_insert=True)
        set_fields(run, fields)
        if until is not None:
            requeue(run.id, at=until)
        elif already_due(run, reason):
            wake(run.id)  # what it waits for happened while it was parking
        broadcast.run_status_on_commit(run)


def finish(
    run: Run,
    worker: str | None,
    *,
    status: str,
    result: Any = None,
    error: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    lines: list[dict[str, Any]] | None = None,
    response: dict[str, Any] | None = None,
) -> None:
    """End the run, free its locks and wake whoever waited on it.

    `worker`: the run's executor, whose lease fences the write; None for a run nobody
    executes (cancelled while queued or waiting). `events`, `lines`, `response`: the
    executor's last step's writes, committed with the run's end (as `commit` would have).
    """
    events, lines = events or [], lines or []
    if worker is None and (events or lines or response is not None):
        raise ValueError("only the run's executor writes its steps: a worker is needed")
    check_run_transition(run.status, status)
    fields = {"status": status, "finished_at": timezone.now(), "result": result, "error": error,
              "status_reason": "", "wake_at": None, "holds_slot": False, "lease_owner": "",
              "lease_expires_at": None, **checked_writes(events, lines, response)}
    end = {"step_key": RUN_KEY, "action_name": "", "action_type": "run", "status": status,
           "output": result, "error": error}
    with transactions.atomic():
        if worker is None:
            Run.objects.filter(id=run.id).update(**fields)
            closing = steps_left_open(run, [], error) if status == RunStatus.CANCELLED else []
            insert_events(run, "", [*closing, end])
        else:
            if fence(run, worker, **fields) and status == RunStatus.COMPLETED:
                # A cancel asked while the last step ran was answered "accepted": honour it.
                status = RunStatus.CANCELLED
                error = cancelled_error(run, during_last_step=True)
                fields.update(status=status, error=error, result=None)
                end.update(status=status, error=error, output=None)
                Run.objects.filter(id=run.id).update(status=status, error=error, result=None)
            closing = (steps_left_open(run, events, error) if status == RunStatus.CANCELLED
                       else [])
            insert_events(run, worker, [*events, *closing, end])
            insert_lines(run, lines)
            announce(run, lines, response)
        set_fields(run, fields)
        _after_finish(run, status, error, release_run_locks(run))


OPEN_STEP_STATUSES = {StepStatus.NOT_STARTED, StepStatus.RUNNING, StepStatus.WAITING,
                      StepStatus.RETRYING}


def steps_left_open(run: Run, pending: list[dict[str, Any]],
                    error: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A `cancelled` event for each step a cancel leaves running, waiting or retrying, so that
    no step of a cancelled run still reads as under way. `pending`: events not yet written."""
    latest: dict[str, dict[str, Any]] = {}
    for event in StepEvent.objects.filter(run_id=run.id).exclude(step_key=RUN_KEY).order_by(
            "id").values("step_key", "action_name", "action_type", "status", "attempt"):
        latest[event["step_key"]] = event
    for event in pending:
        latest[event["step_key"]] = {**latest.get(event["step_key"], {}), **event}
    return [{"step_key": key, "action_name": event["action_name"],
             "action_type": event["action_type"], "status": StepStatus.CANCELLED,
             "attempt": event.get("attempt", 1), "error": error}
            for key, event in latest.items() if event["status"] in OPEN_STEP_STATUSES]


def _after_finish(run: Run, status: str, error: dict[str, Any] | None,
                  released: list[str]) -> None:
    """Inside the finishing transaction: wake the waiters, tell the viewers and the caller."""
    for name in released:
        wake_first_waiter(reason=f"lock:{name}")
    if run.workflow.concurrency_limit:
        wake_first_waiter(reason="concurrency", workflow_id=run.workflow_id)
    if run.parent_run_id:
        wake(run.parent_run_id)
    broadcast.run_status_on_commit(run)
    if _caller_may_wait(run):  # for a run that never responded
        broadcast.run_answer_on_commit(run.id, {"status": status, "error": error})
    if run.environment_id is not None:  # reactions watch runs in an environment only
        transaction.on_commit(lambda: _react_to_finish(run.id, run.environment_id))


def _caller_may_wait(run: Run) -> bool:
    """Whether a synchronous HTTP caller may wait for this run's end. An asynchronous
    trigger's caller got a 202: its run's end is not pushed to Redis for nobody. (A worker's
    claim loads the trigger with the run.)"""
    if run.trigger_type != "http":
        return False
    if run.trigger_id is None or run.trigger is None:
        return True
    return bool((run.trigger.settings or {}).get("mode", "async") == "sync")


def _react_to_finish(run_id: Any, environment_id: Any) -> None:
    """Start the workflows watching runs finish (after commit, outside the run's write)."""
    try:
        run_finished(run_id, environment_id)
    except Exception:  # noqa: BLE001 - a reaction must never break the run that ended
        logger.warning("run-event triggers for %s failed", run_id, exc_info=True)


def already_due(run: Run, reason: str) -> bool:
    """Whether what a parked run waits for (a child run, a lock, a concurrency slot) has
    happened already."""
    if reason.startswith("child:"):
        child_id = reason.split(":", 1)[1]
        return Run.objects.filter(id=child_id, status__in=FINISHED_RUN_STATUSES).exists()
    if reason.startswith("lock:"):
        return lock_is_free_for(run, reason.split(":", 1)[1])
    if reason == "concurrency":
        return not concurrency_blocked(run)
    return False


def request_cancel(run: Run, *, by: str = "") -> bool:
    """Cancel a waiting or queued run at once; a running one stops within a second or at its
    next step boundary (its executor hears of it from the lease keeper or its next fenced
    write), and one whose last step is running ends cancelled all the same. `by`: who asked,
    as recorded (empty: the system). False if the run had ended: nothing was asked."""
    with transactions.atomic():
        run = Run.objects.select_for_update().select_related("workflow").get(id=run.id)
        if run.is_finished:
            return False
        requester = by[:200]
        Run.objects.filter(id=run.id).update(cancel_requested=True,
                                             cancel_requested_by=requester)
        run.cancel_requested, run.cancel_requested_by = True, requester
        lease_free = not run.lease_owner or (
            run.lease_expires_at is not None and run.lease_expires_at < timezone.now()
        )
        if run.status in {RunStatus.WAITING, RunStatus.QUEUED} and lease_free:
            finish(run, None, status=RunStatus.CANCELLED, error=cancelled_error(run))
    return True


def cancelled_error(run: Run, *, during_last_step: bool = False) -> dict[str, Any]:
    """The error a cancelled run ends with, naming who asked."""
    who = run.cancel_requested_by or Run.objects.filter(id=run.id).values_list(
        "cancel_requested_by", flat=True).first() or "the system"
    message = f"cancelled by {who}"
    if during_last_step:
        message += " while its last step ran (that step had completed)"
    return {"type": "cancelled", "message": message, "retryable": False}


def fail_without_lease(run: Run, error: dict[str, Any]) -> None:
    """Fail a run that cannot start at all (its plan does not compile)."""
    check_run_transition(run.status, RunStatus.FAILED)
    fields = {"status": RunStatus.FAILED, "finished_at": timezone.now(), "error": error,
              "lease_owner": "", "lease_expires_at": None}
    with transactions.atomic():
        Run.objects.filter(id=run.id).update(**fields)
        set_fields(run, fields)
        run_event(run, RunStatus.FAILED, error=error).save(force_insert=True)
        broadcast.run_status_on_commit(run)
