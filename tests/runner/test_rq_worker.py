"""OwlGrid's RQ worker: RQ's, without re-writing what it just wrote."""

from __future__ import annotations

import pytest

from runner.queueing import get_queue
from runner.rq_worker import RunWorker


@pytest.fixture
def worker(redis_conn):
    queue = get_queue()
    worker = RunWorker([queue], connection=queue.connection, serializer=queue.serializer)
    worker.register_birth()
    yield worker
    worker.register_death()


def test_a_heartbeat_repeated_within_seconds_is_skipped_but_a_new_ttl_is_written(
        worker, redis_conn):
    worker.heartbeat()
    assert redis_conn.ttl(worker.key) > 400  # worker_ttl + 60, HSET and EXPIRE in one trip
    redis_conn.hdel(worker.key, "last_heartbeat")
    worker.heartbeat()
    assert not redis_conn.hexists(worker.key, "last_heartbeat")
    worker.heartbeat(90)
    assert redis_conn.hexists(worker.key, "last_heartbeat")
    assert redis_conn.ttl(worker.key) <= 90
    worker.heartbeat()  # after another TTL, the default one is written again
    assert redis_conn.ttl(worker.key) > 400


def test_a_state_the_worker_wrote_last_is_not_written_again(worker, redis_conn):
    worker.set_state("idle")
    redis_conn.hdel(worker.key, "state")
    worker.set_state("idle")
    assert not redis_conn.hexists(worker.key, "state")
    worker.set_state("busy")
    assert redis_conn.hget(worker.key, "state") == b"busy"
