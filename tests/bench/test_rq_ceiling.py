"""The RQ ceiling part of `make bench`: RQ's own workers really work the jobs off, and the part
leaves nothing behind on the benchmarks' Redis."""

from __future__ import annotations

import sys

import pytest

from bench import run
from owlgrid_site.settings import BASE_DIR

sys.path.insert(0, str(BASE_DIR / "bench"))
import rq_ceiling  # noqa: E402 - the part imports its siblings by bare name, as make bench runs it


@pytest.fixture
def ceiling_queue(redis_conn):
    queue = rq_ceiling.connect()
    workers = rq_ceiling.start(1)
    try:
        rq_ceiling.wait_for_workers(queue, 1)
        yield queue
    finally:
        for process in workers:
            rq_ceiling.stop(process)


def test_the_ceiling_counts_jobs_a_real_rq_worker_finished(ceiling_queue):
    rate = rq_ceiling.jobs_per_second(ceiling_queue, 50)

    assert rate > 0
    assert ceiling_queue.finished_job_registry.count == 50
    assert ceiling_queue.count == 0


def test_the_part_leaves_no_job_behind(ceiling_queue, redis_conn):
    rq_ceiling.jobs_per_second(ceiling_queue, 20)

    rq_ceiling.forget(ceiling_queue)

    assert ceiling_queue.finished_job_registry.count == 0
    assert not redis_conn.keys("rq:job:*")


def test_runs_per_second_is_reported_against_the_rq_ceiling():
    results = run.with_ratios({"webhook_runs_per_s": 150.0,
                               "baseline_rq_jobs_per_s_2_workers": 500.0})

    assert results["ratio_runs_to_rq_jobs"] == 0.3
