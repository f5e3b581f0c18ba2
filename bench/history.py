"""Cost with history: the sync trigger's p50 and the async run rate on an empty database, then
with 100,000 stored finished runs (bench/history_data.py), in the same run on the same server.

- history_slowdown_sync_p50: webhook_sync_p50_ms with the history ÷ on the empty database;
- history_slowdown_runs_per_s: webhook_runs_per_s on the empty database ÷ with the history.
Above 1 is worse with history; the target is ≤ 1.1. The figures are webhook.py's own
measurements (`throughput` with two workers, `sync_latencies`), in batches of PHASE_CALLS and
PHASE_SYNC_CALLS rather than webhook.py's 600 and 200: two phases of the full size took
minutes on a busy 2-core machine.

The two phases are measured minutes apart on a machine whose speed drifts, so controls come
with them: history_slowdown_view_p50, the same ratio for the plain one-insert view (it reads no
run: anything but 1 is the machine), history_slowdown_sync_p50_per_view, the sync ratio with
each phase's p50 divided by its plain view's p50 first, and each phase's machine speed at plain
Python (ns per loop iteration, as run.py records it; higher is slower).

"Empty" is the bench's own database before the history: the parts run earlier in `make bench`
leave a few runs there (engine.py's, logs.py's), nothing on the scale of the history.
"""

from __future__ import annotations

import json
import sys
import time

from common import setup_django, start_workers, stop
from history_data import HISTORY_RUNS, add_history, shares
from run import python_loop_ns
from webhook import free_port, prepare, start_web, sync_latencies, throughput

WORKERS = 2
SETTLE_SECONDS = 3
PHASE_CALLS = 300
PHASE_SYNC_CALLS = 100


def phase(port: int) -> dict:
    """webhook_runs_per_s and the sync and plain-view latencies, as webhook.py measures them,
    and the machine's speed at plain Python just before."""
    figures = {"python_loop_ns": python_loop_ns()["median"],
               "webhook_runs_per_s": throughput(port, WORKERS, PHASE_CALLS)}
    workers = start_workers(WORKERS)
    try:
        time.sleep(SETTLE_SECONDS)
        figures.update(sync_latencies(port, PHASE_SYNC_CALLS))
    finally:
        stop(workers)
    return figures


def templates() -> list:
    """A finished run of each benchmarked workflow (the async one first: most of the history
    is copies of it), as the empty phase executed them."""
    from runner.models import Run

    return [Run.objects.filter(workflow__name=name, status="completed").latest("created_at")
            for name in ("bench-async", "bench-sync")]


def slowdowns(empty: dict, full: dict) -> dict:
    """How many times worse each figure is with the history (> 1: worse), and the controls."""
    sync, view = "webhook_sync_p50_ms", "baseline_django_view_p50_ms"
    return {
        "history_slowdown_sync_p50": round(full[sync] / empty[sync], 2),
        "history_slowdown_runs_per_s": round(
            empty["webhook_runs_per_s"] / full["webhook_runs_per_s"], 2),
        "history_slowdown_view_p50": round(full[view] / empty[view], 2),
        "history_slowdown_sync_p50_per_view": round(
            (full[sync] / full[view]) / (empty[sync] / empty[view]), 2),
    }


def named(figures: dict, prefix: str) -> dict:
    keys = ("webhook_runs_per_s", "webhook_sync_p50_ms", "baseline_django_view_p50_ms",
            "python_loop_ns")
    return {f"{prefix}_{key}": figures[key] for key in keys}


def measure() -> dict:
    setup_django()
    prepare()
    port = free_port()
    web = start_web(port)
    try:
        empty = phase(port)
        began = time.monotonic()
        runs = add_history(shares(templates(), HISTORY_RUNS))
        made_in = round(time.monotonic() - began, 1)
        full = phase(port)
    finally:
        stop(web)
    return {**slowdowns(empty, full), **named(empty, "history_empty"),
            **named(full, "history_full"), "history_runs": runs,
            "history_made_in_s": made_in}


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
