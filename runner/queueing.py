"""Putting runs on the RQ queue: ids only, JSON-serialised, and only after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_rq
from django.db import transaction

JOB_FUNCTION = "runner.jobs.execute_run"
QUEUE_NAME = "default"


def get_queue():
    return django_rq.get_queue(QUEUE_NAME)


def enqueue_now(run_id: Any, job_id: str, *, at: datetime | None = None) -> None:
    queue = get_queue()
    options = {"job_id": job_id, "result_ttl": 600, "failure_ttl": 86400}
    if at is None:
        queue.enqueue_call(JOB_FUNCTION, args=(str(run_id),), timeout=-1, **options)
    else:
        queue.enqueue_at(at, JOB_FUNCTION, str(run_id), job_timeout=-1, **options)


def enqueue_on_commit(run_id: Any, job_id: str, *, at: datetime | None = None) -> None:
    """Queue the run's job once the surrounding transaction commits (never a phantom run).

    A Redis outage here loses nothing: the run row is committed and the sweeper queues it again.
    """

    def send() -> None:
        try:
            enqueue_now(run_id, job_id, at=at)
        except Exception:  # noqa: BLE001 - Redis down: the sweeper re-queues from the database
            import logging

            logging.getLogger("owlgrid.runner").warning(
                "could not queue run %s now; the sweeper will", run_id, exc_info=True
            )

    transaction.on_commit(send)
