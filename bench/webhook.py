"""HTTP triggers under load, on Daphne with real workers, against their baselines.

- webhook_sync_p50/p95_ms: one client calling a sync trigger of a 3-step workflow ending in
  `respond`; baseline_django_view_p50_ms: the same client on a plain view doing one insert.
- webhook_runs_per_s: async calls from 16 clients, 2 workers, runs completed per second;
  runs_per_s_1_worker / _2_workers: the same run with one and with two worker processes;
  baseline_django_view_per_s: the plain view's calls per second with the same 16 clients
  (what the web tier alone can take, before any run is executed).
- load_*: 2,000 async calls at concurrency 20: throughput, latency, 5xx count, and whether
  every accepted call made exactly one run.
Throughputs are medians of REPEATS batches after a warm-up batch; latencies are medians of the
percentiles of REPEATS batches of SYNC_CALLS calls, each batch after 20 warm-up calls.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time

import client
import httpx
from common import BASE_DIR, setup_django, start_workers, stop, wait_until

SYNC_CALLS = 200
LOAD_CALLS = 2000
THROUGHPUT_CALLS = 600
REPEATS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def step(step_name, type_, **inputs):
    return {"name": step_name, "type": type_, "inputs": inputs}


def prepare() -> None:
    from environments.models import Deployment, Environment
    from workflows.format import workflow_import
    from workflows.models import Collection, Workflow

    env, _ = Environment.objects.get_or_create(name="bench", defaults={"position": 999})
    Collection.objects.get_or_create(environment=env, name="bench-baseline")
    for name, mode, last in (("bench-sync", "sync", step("answer", "respond", body={"ok": True})),
                             ("bench-async", "async", step("done", "log", message="done"))):
        Workflow.objects.filter(name=name).delete()
        version = workflow_import(document={
            "format": "owlgrid.workflow/v1", "name": name,
            "triggers": [{"name": "hook", "type": "http",
                          "settings": {"mode": mode, "timeout": 10},
                          "access": {"mode": "public"}}],
            "actions": [step("one", "set_variable", name="x", value="{{ trigger.body.n }}"),
                        step("two", "log", message="n={{ vars.x }}"), last],
        }, publish=True)
        Deployment.objects.create(workflow=version.workflow, environment=env, version=version)


def start_web(port: int) -> subprocess.Popen:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "owlgrid_site.web:application"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until(lambda: _answers(port), 30, 0.2)
    return process


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/login/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def latencies(port: int, path: str, count: int) -> list[float]:
    """Milliseconds of `count` sequential calls on one keep-alive connection, after 20."""
    calls, _ = client.fire("127.0.0.1", port, path, 20 + count, 1, lambda n: {"n": n})
    assert all(call.status in (200, 201) for call in calls), calls[:3]
    return [call.milliseconds for call in calls[20:]]


def percentile(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 2)


def fire(port: int, path: str, count: int, concurrency: int) -> tuple[list[client.Call], float]:
    return client.fire("127.0.0.1", port, path, count, concurrency, lambda n: {"n": n})


def all_completed(run_ids: list[str]) -> bool:
    """Whether every one of these runs has completed: their statuses read by primary key and
    counted here. `filter(id__in=..., status="completed").count()` made SQLite walk the status
    index instead (without statistics it rates `status = ?` above a 600-value IN list): every
    completed run in the database, 0.4 s per poll with 100,000 stored runs."""
    from runner.models import Run

    statuses = Run.objects.filter(id__in=run_ids).values_list("status", flat=True)
    return sum(status == "completed" for status in statuses) == len(run_ids)


def runs_per_second(run_ids: list[str]) -> float:
    from runner.models import Run

    runs = Run.objects.filter(id__in=run_ids)
    wait_until(lambda: all_completed(run_ids), 300, 0.2)
    bounds = [(r.created_at, r.finished_at) for r in runs]
    first = min(b[0] for b in bounds)
    last = max(b[1] for b in bounds)
    return round(len(run_ids) / (last - first).total_seconds(), 1)


def throughput(port: int, workers: int, calls: int = THROUGHPUT_CALLS) -> float:
    """Runs completed per second with `workers` worker processes: median of REPEATS batches of
    `calls`, after a warm-up batch."""
    path = "/hooks/bench/bench-async"
    process = start_workers(workers)
    try:
        time.sleep(3)
        warm_up, _ = fire(port, path, 100, 16)
        runs_per_second(accepted(warm_up))
        rates = []
        for _ in range(REPEATS):
            batch, _ = fire(port, path, calls, 16)
            rates.append(runs_per_second(accepted(batch)))
        return round(statistics.median(rates), 1)
    finally:
        stop(process)


def accepted(calls: list[client.Call]) -> list[str]:
    return [call.run_id for call in calls if call.run_id]


def baseline_throughput(port: int) -> float:
    """The web tier's ceiling for webhook_runs_per_s: the plain one-insert view, same 16
    clients, same server, no workers (median of REPEATS after a warm-up)."""
    fire(port, "/bench/baseline", 100, 16)  # warm-up
    rates = []
    for _ in range(REPEATS):
        calls, elapsed = fire(port, "/bench/baseline", THROUGHPUT_CALLS, 16)
        assert all(call.status == 200 for call in calls), [call.status for call in calls]
        rates.append(THROUGHPUT_CALLS / elapsed)
    return round(statistics.median(rates), 1)


def sync_latencies(port: int, calls: int = SYNC_CALLS) -> dict:
    """The sync trigger's and the plain view's p50/p95 from REPEATS batches of `calls` each, batch
    by batch on one client (workers must be running)."""
    sync, baseline = [], []
    for _ in range(REPEATS):  # each batch has its own warm-up calls
        sync.append(latencies(port, "/hooks/bench/bench-sync", calls))
        baseline.append(latencies(port, "/bench/baseline", calls))

    def median_of(batches: list[list[float]], q: int) -> float:
        return round(statistics.median(percentile(b, q) for b in batches), 2)

    return {"webhook_sync_p50_ms": median_of(sync, 50), "webhook_sync_p95_ms": median_of(sync, 95),
            "baseline_django_view_p50_ms": median_of(baseline, 50),
            "baseline_django_view_p95_ms": median_of(baseline, 95)}


def measure() -> dict:
    setup_django()
    prepare()
    from runner.models import Run

    port = free_port()
    web = start_web(port)
    try:
        figures = {}
        one = throughput(port, 1)
        two = throughput(port, 2)
        figures.update(runs_per_s_1_worker=one, runs_per_s_2_workers=two,
                       workers_scaling_ratio=round(two / one, 2), webhook_runs_per_s=two)
        figures["baseline_django_view_per_s"] = baseline_throughput(port)
        workers = start_workers(2)
        try:
            time.sleep(3)
            figures.update(sync_latencies(port))
            before = Run.objects.count()
            calls, elapsed = fire(port, "/hooks/bench/bench-async", LOAD_CALLS, 20)
            times = [call.milliseconds for call in calls]
            run_ids = accepted(calls)
            figures.update(
                load_calls=LOAD_CALLS, load_concurrency=20,
                load_calls_per_s=round(LOAD_CALLS / elapsed, 1),
                load_p50_ms=percentile(times, 50), load_p95_ms=percentile(times, 95),
                load_5xx=sum(1 for call in calls if call.status >= 500),
                load_accepted=len(run_ids),
                load_one_run_per_call=(Run.objects.count() - before == len(run_ids)
                                       and len(set(run_ids)) == len(run_ids)),
            )
        finally:
            stop(workers)
        return figures
    finally:
        stop(web)
        forget_runs()


def forget_runs() -> None:
    """The load check leaves runs queued: drop them (and their jobs) so that the next part does
    not execute them in the background while it measures."""
    from runner.queueing import get_queue
    from workflows.models import Workflow

    Workflow.objects.filter(name__in=["bench-sync", "bench-async"]).delete()
    get_queue().empty()


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
