"""Putting runs on the RQ queue: ids only, JSON-serialised, and only after commit."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any

import django_rq
from django.db import transaction
from django_rq.queues import DjangoRQ
from redis import Redis

JOB_FUNCTION = "runner.jobs.execute_run"
QUEUE_NAME = "default"
_client: tuple[int, str, Redis] | None = None
_client_lock = threading.Lock()


def redis_connection() -> Redis:
    """The process's Redis client, with its connection pool.

    `django_rq.get_connection` builds a new client and pool on every call, so each enqueue
    would open a TCP connection and exchange greetings before its own commands; one client per
    process re-uses its connections. Rebuilt after a fork (a pool's sockets are not shared with
    a child) and when REDIS_URL changes (tests override it).
    """
    global _client
    from django.conf import settings

    url = str(settings.RQ_QUEUES[QUEUE_NAME].get("URL", ""))
    with _client_lock:
        if _client is None or _client[0] != os.getpid() or _client[1] != url:
            _client = (os.getpid(), url, django_rq.get_connection(QUEUE_NAME))
        return _client[2]


def get_queue() -> DjangoRQ:
    return django_rq.get_queue(QUEUE_NAME, connection=redis_connection())


def enqueue_now(run_id: Any, job_id: str, *, at: datetime | None = None) -> None:
    queue = get_queue()
    options = {"job_id": job_id, "result_ttl": 600, "failure_ttl": 86400}
    if at is None:
        # One round trip instead of two: without a pipeline of its own, RQ writes the job's
        # hash and then pushes it in a second transaction.
        with queue.connection.pipeline() as pipe:
            queue.enqueue_call(JOB_FUNCTION, args=(str(run_id),), timeout=-1, pipeline=pipe,
                               **options)
            pipe.execute()
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
