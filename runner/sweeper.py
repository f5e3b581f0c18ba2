"""The sweeper: finds due and orphaned runs in the database and queues them again.

Redis carries work only; if it is flushed or a worker dies, the database still knows which runs
are queued, due or held by an expired lease, and this puts them back on the queue.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from rq.exceptions import NoSuchJobError
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
    requeued = 0
    for run_id, job_id, status in candidates.values_list("id", "job_id", "status")[:BATCH]:
        # An expired lease means its worker died: a "started" job is then a corpse.
        alive = WAITING_JOB if status == RunStatus.RUNNING else LIVE_JOB
        if _job_status(job_id) not in alive:
            journal.requeue(run_id)
            requeued += 1
    requeued += _wake_satisfied_waiters()
    return requeued


WAITING_JOB = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
LIVE_JOB = WAITING_JOB | {JobStatus.STARTED}


def _job_status(job_id: str) -> JobStatus | None:
    if not job_id:
        return None
    queue = queueing.get_queue()
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return None
    return job.get_status(refresh=False)


def _wake_satisfied_waiters() -> int:
    """A backstop for wake-ups lost between a release and a park."""
    woken = 0
    for run in Run.objects.filter(status=RunStatus.WAITING, wake_at__isnull=True).select_related(
        "workflow"
    )[:BATCH]:
        if journal.already_due(run, run.status_reason) and journal.wake(run.id):
            woken += 1
    return woken
