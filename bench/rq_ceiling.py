"""The ceiling RQ itself puts on `webhook_runs_per_s`, measured in the same run.

Every async run is one RQ job (README, "Architecture": trigger → RQ queue → worker → engine), so
OwlGrid can complete no more runs per second than RQ completes trivial jobs with as many
workers and nothing else to do: no HTTP call, no database, no workflow. This part measures
that with RQ's own `SimpleWorker` processes (one, then two), RQ's JSON serializer (OwlGrid's)
and the default result TTL, on the benchmarks' Redis: jobs queued in one round trip while the
workers wait, timed from the queueing to the last job finished; median of REPEATS batches
after a warm-up batch.

    python bench/rq_ceiling.py    # on the bench's own database and Redis (bench/sandbox.py)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from baseline_jobs import queue_trivial_jobs
from common import BASE_DIR, setup_django, stop, wait_until

QUEUE = "bench-rq-ceiling"
JOBS = 2000
REPEATS = 3
POLL_SECONDS = 0.01


def connect():
    """The queue on the benchmarks' own Redis (bench/sandbox.py), with OwlGrid's serializer."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    from runner.queueing import get_queue

    return Queue(QUEUE, connection=get_queue().connection, serializer=JSONSerializer)


def work() -> None:
    """A worker process: RQ's SimpleWorker on the ceiling's queue until it is stopped."""
    from rq.worker import SimpleWorker

    queue = connect()
    SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer).work(
        logging_level="WARNING")


def start(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--worker"], cwd=BASE_DIR / "bench",
        start_new_session=True, stdout=subprocess.DEVNULL,
    ) for _ in range(count)]


def wait_for_workers(queue, count: int) -> None:
    from rq.worker import Worker

    wait_until(lambda: Worker.count(queue=queue) >= count, 30, 0.05)


def jobs_per_second(queue, jobs: int) -> float:
    """Queue `jobs` trivial jobs in one round trip; the rate at which the waiting workers
    finish them."""
    registry = queue.finished_job_registry
    done_before = registry.count
    began = time.perf_counter()
    queue_trivial_jobs(queue, jobs)
    wait_until(lambda: registry.count - done_before >= jobs, 120, POLL_SECONDS)
    return jobs / (time.perf_counter() - began)


def rate(workers: int) -> float:
    queue = connect()
    queue.empty()
    processes = start(workers)
    try:
        wait_for_workers(queue, workers)
        jobs_per_second(queue, JOBS // 4)  # warm-up
        return round(statistics.median(jobs_per_second(queue, JOBS) for _ in range(REPEATS)), 1)
    finally:
        for process in processes:
            stop(process)
        forget(queue)


def forget(queue) -> None:
    """Drop the finished jobs and their registry: the next part starts on a clean Redis."""
    registry = queue.finished_job_registry
    ids = registry.get_job_ids()
    with queue.connection.pipeline() as pipe:
        for start_at in range(0, len(ids), 1000):
            chunk = ids[start_at:start_at + 1000]
            pipe.delete(*(queue.job_class.key_for(job_id) for job_id in chunk))
        pipe.delete(registry.key)
        pipe.execute()
    queue.delete(delete_jobs=True)


def measure() -> dict:
    setup_django()
    one, two = rate(1), rate(2)
    return {"baseline_rq_jobs_per_s_1_worker": one, "baseline_rq_jobs_per_s_2_workers": two,
            "baseline_rq_workers_scaling_ratio": round(two / one, 2)}


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
        django.setup()
        work()
    else:
        json.dump(measure(), sys.stdout, indent=2)
        print()
