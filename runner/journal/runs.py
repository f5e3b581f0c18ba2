"""A run's creation and its jobs: a run gets a job (an RQ job carrying its id) only once the
write that makes it due has committed, and a job carries nothing but the run's id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from runner import broadcast, queueing
from runner.journal import transactions
from runner.journal.records import event_like, run_event
from runner.models import Run, RunStatus, StepEvent, StepStatus


def create_run(**fields: Any) -> Run:
    """Insert a queued run and queue its job once the transaction commits."""
    run = Run(status=RunStatus.QUEUED, job_id=new_job_id(), **fields)
    with transactions.atomic():
        run.save(force_insert=True)
        run_event(run, RunStatus.QUEUED).save(force_insert=True)
        queueing.enqueue_on_commit(run.id, run.job_id)
        broadcast.run_status_on_commit(run)
    return run


def new_job_id() -> str:
    """A fresh RQ job id: each queueing of a run is a job of its own."""
    return f"run-{uuid.uuid4().hex}"


def requeue(run_id: Any, *, at: datetime | None = None,
            replacing: tuple[str, str] | None = None) -> bool:
    """Give the run a fresh job (after a Redis flush, a wake-up or a lost worker).

    `replacing`: (status, job id) the caller read; the run gets a job only if it still has
    both (the sweeper must not queue a run that a worker has run since it looked)."""
    job_id = new_job_id()
    runs = Run.objects.filter(id=run_id)
    if replacing is not None:
        runs = runs.filter(status=replacing[0], job_id=replacing[1])
    if not runs.update(job_id=job_id):
        return False
    queueing.enqueue_on_commit(run_id, job_id, at=at)
    return True


def wake(run_id: Any) -> bool:
    """Make a waiting run due now and queue it; False when it was not waiting."""
    woken = Run.objects.filter(id=run_id, status=RunStatus.WAITING).update(
        wake_at=timezone.now()
    )
    if woken:
        requeue(run_id)
    return bool(woken)


def wake_first_waiter(*, reason: str, workflow_id: Any = None) -> None:
    """Wake the run that has waited longest for `reason` (of that workflow, if given)."""
    waiters = Run.objects.filter(status=RunStatus.WAITING, status_reason=reason)
    if workflow_id is not None:
        waiters = waiters.filter(workflow_id=workflow_id)
    order = ("created_at",) if reason == "concurrency" else ("waiting_since", "created_at")
    first = waiters.order_by(*order).values_list("id", flat=True).first()
    if first is not None:
        wake(first)


@transactions.atomic()
def copy_completed_steps(*, source: Run, target: Run) -> None:
    """Seed a retry's journal with the leaf steps its source run completed (they won't rerun).

    Structural steps run again so that they reach the step that failed inside them.
    """
    actions = (target.plan or {}).get("actions", {})
    latest: dict[str, StepEvent] = {}
    for event in StepEvent.objects.filter(run=source).exclude(step_key="").order_by("id"):
        latest[event.step_key] = event
    StepEvent.objects.bulk_create(
        event_like(event, run=target, worker="copied")
        for event in latest.values()
        if event.status == StepStatus.COMPLETED and event.action_name in actions
        and not actions[event.action_name]["children"]
    )
