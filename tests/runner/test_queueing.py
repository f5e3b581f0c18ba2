"""Putting runs on the queue (runner/queueing.py), on the real Redis."""

from __future__ import annotations

import os

from rq.job import JobStatus

from runner import queueing


def test_the_process_keeps_one_redis_client_and_a_forked_child_gets_its_own(redis_conn):
    client = queueing.redis_connection()
    assert queueing.redis_connection() is client  # no new connection per enqueue
    queueing.enqueue_now("run-in-parent", "run-job-parent")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            own = queueing.redis_connection()
            queueing.enqueue_now("run-in-child", "run-job-child")
            os.write(write, b"own" if own is not client and own.ping() else b"shared")
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 10) == b"own"
    assert set(queueing.get_queue().job_ids) == {"run-job-parent", "run-job-child"}


def test_a_run_s_job_is_queued_with_its_settings(redis_conn):
    queueing.enqueue_now("run-1", "run-job-1")
    job = queueing.get_queue().fetch_job("run-job-1")
    assert queueing.get_queue().job_ids == ["run-job-1"]
    assert job.get_status() == JobStatus.QUEUED and job.origin == queueing.QUEUE_NAME
    assert (job.func_name, list(job.args)) == (queueing.JOB_FUNCTION, ["run-1"])
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (-1, 600, 86400)
    assert job.enqueued_at is not None
