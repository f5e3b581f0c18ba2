"""Cost with history: the sync trigger's p50 and the async run rate on an empty database and on
the same database with 100,000 stored finished runs (bench/history_data.py).

- history_slowdown_sync_p50: webhook_sync_p50_ms with the history ÷ on the empty database;
- history_slowdown_runs_per_s: webhook_runs_per_s on the empty database ÷ with the history.
Above 1 is worse with history; the target is ≤ 1.1. The figures are webhook.py's own
measurements (`throughput` with two workers, `sync_latencies`), in batches of PHASE_CALLS and
PHASE_SYNC_CALLS rather than webhook.py's 600 and 200, to keep four phases to a few minutes.

Two databases side by side: the bench's own ("empty": the earlier parts of `make bench` leave
a few runs in it) and a copy of it given the history ("full"). The phases go empty, full, full,
empty, each in a fresh process with its own Daphne and workers, and each state's figures are
the mean of its two phases: measured one after the other, the two states were minutes apart on
a shared machine whose speed moved by half meanwhile, and that alone showed up as a 1.3–1.4
"slowdown"; the ABBA order cancels a steady drift. Controls come along: the same ratio for the
plain one-insert view (history_slowdown_view_p50: it reads no run) and the sync ratio with each
phase's p50 divided by its plain view's first (history_slowdown_sync_p50_per_view).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from common import sandbox, setup_django, start_workers, stop
from history_data import HISTORY_RUNS, add_history, shares
from run import stop_part
from webhook import free_port, prepare, start_web, sync_latencies, throughput

WORKERS = 2
SETTLE_SECONDS = 3
PHASE_CALLS = 200
PHASE_SYNC_CALLS = 60
CHILD_TIMEOUT = 600
FIGURES = ("webhook_runs_per_s", "webhook_sync_p50_ms", "baseline_django_view_p50_ms")


# --- in a child process, on the database its DATABASE_URL names ---------------------------------

def phase() -> dict:
    """webhook_runs_per_s and the sync and plain-view p50s, as webhook.py measures them."""
    setup_django()
    port = free_port()
    web = start_web(port)
    try:
        figures = {"webhook_runs_per_s": throughput(port, WORKERS, PHASE_CALLS)}
        workers = start_workers(WORKERS)
        try:
            time.sleep(SETTLE_SECONDS)
            figures.update(sync_latencies(port, PHASE_SYNC_CALLS))
        finally:
            stop(workers)
    finally:
        stop(web)
    return {key: figures[key] for key in FIGURES}


def templates() -> list:
    """A finished run of each benchmarked workflow (the async one first: most of the history
    is copies of it), as the first phase executed them."""
    from runner.models import Run

    return [Run.objects.filter(workflow__name=name, status="completed").latest("created_at")
            for name in ("bench-async", "bench-sync")]


def fill() -> dict:
    """Store the history; how many runs and how long it took."""
    setup_django()
    began = time.monotonic()
    runs = add_history(shares(templates(), HISTORY_RUNS))
    return {"history_runs": runs, "history_made_in_s": round(time.monotonic() - began, 1)}


# --- the part ----------------------------------------------------------------------------------

def in_child(step: str, database_url: str) -> dict:
    """Run `step` ("phase" or "fill") in a fresh process on that database; its JSON answer.
    Stopped as run.py stops a part (SIGTERM first: it stops its Daphne and workers)."""
    env = dict(os.environ, DATABASE_URL=database_url)
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, f"--{step}"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(timeout=CHILD_TIMEOUT)
    except BaseException:
        stop_part(child)
        raise
    if child.returncode != 0:
        raise RuntimeError(f"history {step}: {stderr.strip().splitlines()[-1:]}")
    return json.loads(stdout[stdout.index("{"):])


def mean_of(phases: list[dict]) -> dict:
    return {key: round(statistics.mean(p[key] for p in phases), 2) for key in FIGURES}


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
    return {f"{prefix}_{key}": figures[key] for key in FIGURES}


def measure() -> dict:
    """Empty, full, full, empty; the slowdowns from each state's mean."""
    setup_django()
    prepare()
    from django.db import connections

    connections.close_all()  # PostgreSQL copies a database only while nobody is connected
    empty_url = os.environ["DATABASE_URL"]
    empty = [in_child("phase", empty_url)]
    full_url = sandbox.copy_database(empty_url)
    try:
        made = in_child("fill", full_url)
        full = [in_child("phase", full_url), in_child("phase", full_url)]
        empty.append(in_child("phase", empty_url))
    finally:
        sandbox.drop_copy(full_url)
    empty_mean, full_mean = mean_of(empty), mean_of(full)
    return {**slowdowns(empty_mean, full_mean), **named(empty_mean, "history_empty"),
            **named(full_mean, "history_full"), **made,
            "history_phases": {"empty_1": empty[0], "full_1": full[0], "full_2": full[1],
                               "empty_2": empty[1]}}


if __name__ == "__main__":
    step = {"--phase": phase, "--fill": fill}.get(sys.argv[1] if sys.argv[1:] else "", measure)
    json.dump(step(), sys.stdout, indent=2)
    print()
