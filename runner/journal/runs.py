"""A run's creation, its jobs, and a worker's claim of it.

A run gets a job (an RQ job carrying its id) only once the write that makes it due has
committed, and a worker executes it only after claiming its lease: the claim is a conditional
UPDATE (`filter(..., still claimable).update(...) == 1`), so two workers racing for one run
get it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from runner import broadcast, queueing
from runner.journal import creation
from runner.journal.records import (
    RUN_KEY,
    creation_events,
    event_like,
    lease_delta,
    run_event,
    set_fields,
)
from runner.models import Run, RunStatus, StepEvent, StepStatus
from runner.states import check_run_transition

# RQ's scheduler keeps whole seconds and may fire up to one early; the step that parked sleeps
# whatever remains.
SCHEDULER_PRECISION = timedelta(seconds=1)
RESUMED = {"resumed": True}

# Every status a claim starts from may become running (checked once, at import).
for _status in (RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING):
    check_run_transition(_status, RunStatus.RUNNING)


def create_run(*, claimed_by: str | None = None, defer: bool = False, **fields: Any) -> Run:
    """Insert a queued run and queue its job once the transaction commits.

    `claimed_by`: the run is inserted already leased by that executor (the web process running
    a synchronous trigger's run itself, runner/inline.py) and is not queued; if the executor
    dies, the lease expires and the sweeper queues the run for a worker like any orphan.

    `defer` (with `claimed_by`): the insert is left to the executor's first write
    (runner/journal/creation.py). Not for a workflow under a concurrency limit (its slot is
    taken by a write of its own) nor inside the caller's transaction (the run belongs to it).
    """
    if claimed_by is None:
        run = Run(status=RunStatus.QUEUED, job_id=new_job_id(), **fields)
        events = [run_event(run, RunStatus.QUEUED)]
    else:
        run = _leased_run(claimed_by, fields)
        if defer and not run.workflow.concurrency_limit and not connection.in_atomic_block:
            creation.defer(run, claimed_by)
            return run
        events = creation_events(run, claimed_by)
    with transaction.atomic():
        run.save(force_insert=True)
        StepEvent.objects.bulk_create(events)
        if claimed_by is None:
            queueing.enqueue_on_commit(run.id, run.job_id)
        broadcast.run_status_on_commit(run)
    return run


def _leased_run(executor: str, fields: dict[str, Any]) -> Run:
    """A running run leased to `executor` from its creation (not saved)."""
    check_run_transition(RunStatus.QUEUED, RunStatus.RUNNING)
    now = timezone.now()
    return Run(status=RunStatus.RUNNING, started_at=now, lease_owner=executor,
               lease_expires_at=now + lease_delta(), **fields)


def new_job_id() -> str:
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


POISON_AFTER_DEATHS = 2


def claim(run_id: Any, worker: str) -> Run | None:
    """Take the run's lease if it is free and the run has something to do, else None."""
    claimed = claim_run(run_id, worker)
    return None if claimed is None else claimed[0]


def claim_run(run_id: Any, worker: str) -> tuple[Run, bool] | None:
    """`claim`, also telling whether the run's journal is known to be empty: its first start,
    and not a retry (whose journal starts with the steps its source completed).

    The run is read locked (`select_for_update`: a second claimer waits for the first one's
    commit, then reads the run leased; SQLite's IMMEDIATE transaction serialises them
    already) with the workflow, environment and trigger the engine uses, then leased. The
    running event (saying "resumed" when the run's previous holder died) goes in the same
    transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        run = _locked_with_relations(run_id)
        if run is None or not _claimable(run, now):
            return None
        was, was_started = run.status, run.started_at
        resumed = was == RunStatus.RUNNING and was_started is not None
        if resumed and run.executor_deaths + 1 >= POISON_AFTER_DEATHS:
            _fail_as_poison(run)
            return None
        fields = {"lease_owner": worker, "lease_expires_at": now + lease_delta(),
                  "status": RunStatus.RUNNING, "started_at": was_started or now,
                  "executor_deaths": run.executor_deaths + int(resumed)}
        Run.objects.filter(id=run_id).update(**fields)
        run_event(run, RunStatus.RUNNING, output=RESUMED if resumed else None,
                  worker=worker if resumed else "").save(force_insert=True)
        set_fields(run, fields)
        broadcast.run_status_on_commit(run)
    return run, (was == RunStatus.QUEUED and was_started is None and run.retry_of_id is None)


def _fail_as_poison(run: Run) -> None:
    """A run whose execution killed its executor again is not handed to the next worker."""
    from runner.journal.lifecycle import finish  # lifecycle builds on this module

    step = (StepEvent.objects.filter(run=run, status=StepStatus.RUNNING).exclude(step_key=RUN_KEY)
            .order_by("-id").values_list("action_name", flat=True).first())
    where = f" (last seen running block {step!r})" if step else ""
    finish(run, None, status=RunStatus.FAILED, error={
        "type": "poison_run", "retryable": False,
        "message": f"this run's execution stopped its worker {POISON_AFTER_DEATHS} times"
                   f"{where}: it is not handed to another worker"})


def _locked_with_relations(run_id: Any) -> Run | None:
    """The run, its row locked until the transaction ends, with what the engine reads."""
    runs = Run.objects.select_for_update(of=("self",)).select_related(
        "workflow", "environment", "trigger")
    try:
        return runs.get(id=run_id)
    except Run.DoesNotExist:
        return None


def _claimable(run: Run, now: datetime) -> bool:
    """Whether the run has something to do and nobody holds its lease."""
    expired = run.lease_expires_at is not None and run.lease_expires_at < now
    if run.lease_owner and not expired:
        return False
    if run.status == RunStatus.WAITING:
        return run.wake_at is not None and run.wake_at <= now + SCHEDULER_PRECISION
    return run.status == RunStatus.QUEUED or (run.status == RunStatus.RUNNING and expired)


@transaction.atomic
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
