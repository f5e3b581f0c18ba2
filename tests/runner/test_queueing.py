"""Putting runs on the queue (runner/queueing.py), on the real Redis."""

from __future__ import annotations

import os

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
