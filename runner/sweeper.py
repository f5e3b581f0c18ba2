"""The sweeper: finds due and orphaned runs in the database and queues them again.

Redis carries work only; if it is flushed or a worker dies, the database still knows which runs
are queued, due or held by an expired lease, and this puts them back on the queue.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from rq.job import Job, JobStatus

from runner import journal, queueing
from runner.models import Run, RunStatus

logger = logging.getLogger("owlgrid.runner")
GRACE = timedelta(seconds=3)
BATCH = 500


def sweep() -> int:
    """Queue again every run that should be executing but has no live job; returns the count."""
    now = timezone.now()
    candidates = (
        Run.objects.filter(status=RunStatus.QUEUED, created_at__lt=now - GRACE)
        | Run.objects.filter(status=RunStatus.WAITING, wake_at__lt=now - GRACE)
        | Run.objects.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
    )
    rows = list(candidates.values_list("id", "job_id", "status")[:BATCH])
    requeued = 0
    for (run_id, job_id, status), job_status in zip(rows, _job_statuses(rows), strict=True):
        # An expired lease means its worker died: a "started" job is then a corpse.
        alive = WAITING_JOB if status == RunStatus.RUNNING else LIVE_JOB
        # Only if the run is still as read: a worker may have run it since, and its job is
        # then gone (a finished job is deleted) without the run needing another one.
        if job_status not in alive and journal.requeue(run_id, replacing=(status, job_id)):
            requeued += 1
    requeued += _wake_satisfied_waiters()
    return requeued


WAITING_JOB = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
LIVE_JOB = WAITING_JOB | {JobStatus.STARTED}


def _job_statuses(rows: list[tuple]) -> list[JobStatus | None]:
    """The RQ status of each run's job (None: no job), in one round trip rather than one per
    job, since a backlog of queued runs is checked on every sweep."""
    if not rows:
        return []
    pipe = queueing.get_queue().connection.pipeline(transaction=False)
    for _, job_id, _ in rows:
        pipe.hget(Job.key_for(job_id or "-"), "status")
    return [None if not job_id or raw is None else _JOB_STATUSES.get(raw.decode())
            for (_, job_id, _), raw in zip(rows, pipe.execute(), strict=True)]


_JOB_STATUSES = {status.value: status for status in JobStatus}


def _wake_satisfied_waiters() -> int:
    """A backstop for wake-ups lost between a release and a park."""
    woken = 0
    for run in Run.objects.filter(status=RunStatus.WAITING, wake_at__isnull=True).select_related(
        "workflow"
    )[:BATCH]:
        if journal.already_due(run, run.status_reason) and journal.wake(run.id):
            woken += 1
    return woken
