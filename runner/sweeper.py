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
    for run_id, job_id in candidates.values_list("id", "job_id")[:BATCH]:
        if not _job_alive(job_id):
            journal.requeue(run_id)
            requeued += 1
    requeued += _wake_satisfied_waiters()
    return requeued


def _job_alive(job_id: str) -> bool:
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=queueing.get_queue().connection,
                        serializer=queueing.get_queue().serializer)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in {
        JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED
    }


def _wake_satisfied_waiters() -> int:
    """A backstop for wake-ups lost between a release and a park."""
    woken = 0
    for run in Run.objects.filter(status=RunStatus.WAITING, wake_at__isnull=True).select_related(
        "workflow"
    )[:BATCH]:
        if journal.already_due(run, run.status_reason) and journal.wake(run.id):
            woken += 1
    return woken
