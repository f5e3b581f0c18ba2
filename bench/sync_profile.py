"""Where a synchronous call's time goes, hop by hop (the profile behind `webhook_sync_p50_ms`).

One client calls the sync trigger of webhook.py's workflow 300 times, one worker running. For
each call the run's own timestamps and its RQ job's split the latency into: the web process
until the run row is written, the enqueue after commit, the queue hop (job enqueued → a worker
started it), the claim, the steps, and the answer's way back to the caller. Medians, in ms.

`python bench/sync_profile.py` inside a sandbox (`python bench/run.py sync_profile.py`).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import httpx
from common import start_workers, stop
from webhook import free_port, prepare, setup_django, start_web

CALLS = 300


def main() -> dict[str, float]:
    setup_django()
    prepare()
    from runner.models import Run
    from runner.queueing import get_queue

    port = free_port()
    web = start_web(port)
    workers = start_workers(1)
    calls: list[tuple[float, float]] = []
    try:
        time.sleep(3)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for n in range(CALLS + 20):
                sent = time.time()
                client.post("/hooks/bench/bench-sync", json={"n": n})
                received = time.time()
                if n >= 20:  # warm-up
                    calls.append((sent, received))
        runs = {str(run.id): run for run in Run.objects.filter(workflow__name="bench-sync")}
        queue = get_queue()
        hops: dict[str, list[float]] = {k: [] for k in (
            "web_until_run_written", "commit_and_enqueue", "queue_hop", "claim", "steps",
            "answer_back", "total")}
        ordered = sorted(runs.values(), key=lambda run: run.created_at)[-CALLS:]
        for (sent, received), run in zip(calls, ordered, strict=False):
            job = queue.fetch_job(run.job_id) if run.job_id else None
            created = run.created_at.timestamp()
            enqueued = job.enqueued_at.timestamp() if job and job.enqueued_at else None
            started = job.started_at.timestamp() if job and job.started_at else None
            hops["web_until_run_written"].append((created - sent) * 1000)
            if enqueued and started:
                hops["commit_and_enqueue"].append((enqueued - created) * 1000)
                hops["queue_hop"].append((started - enqueued) * 1000)
                hops["claim"].append((run.started_at.timestamp() - started) * 1000)
            hops["steps"].append((run.finished_at - run.started_at).total_seconds() * 1000)
            hops["answer_back"].append((received - run.finished_at.timestamp()) * 1000)
            hops["total"].append((received - sent) * 1000)
    finally:
        stop(workers)
        stop(web)
    return {f"sync_{name}_p50_ms": round(statistics.median(values), 2)
            for name, values in hops.items() if values}


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    print()
