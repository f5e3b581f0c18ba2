"""CPU per trivial job of RQ's own bookkeeping: RQ's SimpleWorker (the baseline) against
OwlGrid's RunWorker (runner/rq_worker.py), alternated in one process on one Redis.

Each batch queues JOBS trivial jobs in one round trip, then one worker works them off in
burst mode; the figure is the worker's process CPU time (and wall time) per job, the median
of REPEATS batches of each class. The Redis server's own CPU is not in it.

    REDIS_URL=redis://127.0.0.1:6379/13 python bench/rq_job_cpu.py [--jobs 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from baseline_jobs import queue_trivial_jobs
from common import setup_django


def batch(worker_class, queue, jobs: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per job for one batch worked off by one worker of `worker_class`."""
    queue.empty()
    queue_trivial_jobs(queue, jobs, result_ttl=600)
    worker = worker_class([queue], connection=queue.connection, serializer=queue.serializer)
    wall, cpu = time.perf_counter(), time.process_time()
    worker.work(burst=True, logging_level="WARNING")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert queue.count == 0
    return cpu / jobs * 1000, wall / jobs * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    setup_django()
    from rq.worker import SimpleWorker

    from runner.queueing import get_queue
    from runner.rq_worker import RunWorker

    queue = get_queue()
    classes = {"baseline_rq_simple_worker": SimpleWorker, "owlgrid_run_worker": RunWorker}
    for worker_class in classes.values():
        batch(worker_class, queue, options.jobs // 10)  # warm-up
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in classes}
    for _ in range(options.repeats):
        for name, worker_class in classes.items():
            figures[name].append(batch(worker_class, queue, options.jobs))
    summary = {}
    for name, values in figures.items():
        summary[f"{name}_cpu_ms_per_job"] = round(statistics.median(v[0] for v in values), 3)
        summary[f"{name}_wall_ms_per_job"] = round(statistics.median(v[1] for v in values), 3)
    summary["ratio_cpu"] = round(summary["owlgrid_run_worker_cpu_ms_per_job"]
                                 / summary["baseline_rq_simple_worker_cpu_ms_per_job"], 2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
