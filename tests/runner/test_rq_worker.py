"""OwlGrid's RQ worker: RQ's, without re-writing what it just wrote (real Redis)."""

from __future__ import annotations

import pytest
from rq import Callback

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


def test_a_heartbeat_in_one_of_rq_s_pipelines_counts_and_is_not_repeated(worker, redis_conn):
    with redis_conn.pipeline() as pipe:
        worker.heartbeat(pipeline=pipe)
        assert len(pipe.command_stack) == 2  # HSET and EXPIRE
        pipe.execute()
    redis_conn.hdel(worker.key, "last_heartbeat")
    worker.heartbeat()
    with redis_conn.pipeline() as pipe:
        worker.heartbeat(pipeline=pipe)
        assert len(pipe.command_stack) == 0
        worker.heartbeat(90, pipeline=pipe)  # another TTL: written
        pipe.execute()
    assert redis_conn.hexists(worker.key, "last_heartbeat")
    assert redis_conn.ttl(worker.key) <= 90


def test_the_idle_state_after_a_job_goes_with_the_next_heartbeat(worker, redis_conn):
    worker.set_state("busy")
    worker.heartbeat()
    worker.set_state("idle")
    assert worker.get_state() == "idle"
    assert redis_conn.hget(worker.key, "state") == b"busy"
    worker.heartbeat()  # a repeat, but the state still has to be written
    assert redis_conn.hget(worker.key, "state") == b"idle"
    worker.set_state("idle")
    worker.set_state("busy")
    assert redis_conn.hget(worker.key, "state") == b"busy"


def test_rq_s_loop_leaves_the_worker_idle_with_its_jobs_finished(redis_conn):
    queue = get_queue()
    jobs = [queue.enqueue("operator.add", n, 1) for n in range(3)]
    worker = RunWorker([queue], connection=queue.connection, serializer=queue.serializer)
    seen = []
    real = worker.execute_job

    def execute_and_look(job, queue):
        real(job, queue)
        worker.heartbeat()  # what RQ's loop does next
        seen.append(redis_conn.hget(worker.key, "state"))

    worker.execute_job = execute_and_look
    assert worker.work(burst=True)
    assert seen == [b"idle"] * 3
    for n, job in enumerate(jobs):
        job.refresh()
        assert job.get_status() == "finished"
        assert job.return_value() == n + 1


def test_the_job_s_last_heartbeat_is_written_at_its_end_only_for_a_success_callback(redis_conn):
    queue = get_queue()
    plain = queue.enqueue("operator.add", 1, 1)
    with_callback = queue.enqueue("operator.add", 2, 2, on_success=Callback(print))
    worker = RunWorker([queue], connection=queue.connection, serializer=queue.serializer)
    assert worker.work(burst=True)
    plain.refresh()
    with_callback.refresh()
    assert plain.get_status() == with_callback.get_status() == "finished"
    assert plain.last_heartbeat < plain.ended_at  # written when it started, not again
    assert with_callback.last_heartbeat >= with_callback.ended_at
