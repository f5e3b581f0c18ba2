"""A worker's claim of a run: the lease that makes it the run's only executor.

The claim follows the rule for taking work: read, then `filter(..., as read).update(...) == 1`.
Of two workers racing for a run, the second updates nothing and is refused. The read is made
outside the transaction, so the write lock (SQLite's is taken when the transaction begins) is
held for the claim's two writes only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from runner import broadcast
from runner.journal import transactions
from runner.journal.lifecycle import finish
from runner.journal.records import RUN_KEY, lease_delta, run_event, set_fields
from runner.models import Run, RunStatus, StepEvent, StepStatus
from runner.states import check_run_transition

# RQ's scheduler keeps whole seconds and may fire up to one early; the step that parked sleeps
# whatever remains.
SCHEDULER_PRECISION = timedelta(seconds=1)
RESUMED = {"resumed": True}
POISON_AFTER_DEATHS = 2

# Every status a claim starts from may become running (checked once, at import).
for _status in (RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING):
    check_run_transition(_status, RunStatus.RUNNING)


def claim(run_id: Any, worker: str) -> Run | None:
    """Take the run's lease if it is free and the run has something to do, else None."""
    claimed = claim_run(run_id, worker)
    return None if claimed is None else claimed[0]


def claim_run(run_id: Any, worker: str) -> tuple[Run, bool] | None:
    """`claim`, also telling whether the run's journal is known to be empty: its first start,
    and not a retry (whose journal starts with the steps its source completed).

    The run comes with the workflow, environment and trigger the engine reads. Its running
    event (saying "resumed" when the previous holder died) commits with the lease. A run
    whose executors died holding it `POISON_AFTER_DEATHS` times is failed instead.
    """
    now = timezone.now()
    run = _with_relations(run_id)
    if run is None or not _claimable(run, now):
        return None
    was, was_started = run.status, run.started_at
    resumed = was == RunStatus.RUNNING and was_started is not None
    deaths = run.executor_deaths + int(resumed)
    fields = {"lease_owner": worker, "lease_expires_at": now + lease_delta(),
              "status": RunStatus.RUNNING, "started_at": was_started or now,
              "executor_deaths": deaths}
    poison = resumed and deaths >= POISON_AFTER_DEATHS
    with transactions.atomic():
        if not _as_read(run).update(**fields):
            return None
        set_fields(run, fields)
        if poison:
            _fail_as_poison(run, worker)
            return None
        run_event(run, RunStatus.RUNNING, output=RESUMED if resumed else None,
                  worker=worker if resumed else "").save(force_insert=True)
        broadcast.run_status_on_commit(run)
    return run, (was == RunStatus.QUEUED and was_started is None and run.retry_of_id is None)


def _with_relations(run_id: Any) -> Run | None:
    """The run with what the engine reads: its workflow, environment and trigger."""
    try:
        return Run.objects.select_related("workflow", "environment", "trigger").get(id=run_id)
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


def _as_read(run: Run) -> QuerySet[Run]:
    """The run, if the columns that made it claimable are still as read."""
    return Run.objects.filter(id=run.id, status=run.status, lease_owner=run.lease_owner,
                              lease_expires_at=run.lease_expires_at, wake_at=run.wake_at)


def _fail_as_poison(run: Run, worker: str) -> None:
    """A run whose execution killed its executor again is not handed to the next worker: the
    claimer, holding its lease, fails it, naming the block last seen running."""
    step = (StepEvent.objects.filter(run=run, status=StepStatus.RUNNING).exclude(step_key=RUN_KEY)
            .order_by("-id").values_list("action_name", flat=True).first())
    where = f" (last seen running block {step!r})" if step else ""
    finish(run, worker, status=RunStatus.FAILED, error={
        "type": "poison_run", "retryable": False,
        "message": f"this run's execution stopped its worker {POISON_AFTER_DEATHS} times"
                   f"{where}: it is not handed to another worker"})
