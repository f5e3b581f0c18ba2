"""CPU per run, process by process, for the async throughput slice of `webhook.py`.

Starts Daphne, then for each worker count fires batches of async calls of the 3-step workflow
(16 clients) and reads each process's CPU time (utime + stime, /proc/<pid>/stat) before and
after the batch: the workers (`run_workers --one`), their launcher (the sweeper), Daphne and
Redis. Prints runs/s and ms of CPU per run for every batch, then a JSON summary (medians).

    python bench/worker_cpu.py [--workers 1,2] [--repeats 3]    # in a sandbox (bench/sandbox.py)

OWLGRID_PROFILE_DIR=dir profiles the workers only (cProfile, written when they stop).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

from common import setup_django, start_workers, stop
from webhook import accepted, fire, forget_runs, free_port, prepare, runs_per_second, start_web

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def group_pids(pgid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def redis_pid() -> int | None:
    done = subprocess.run(["pidof", "redis-server"], capture_output=True, text=True, check=False)
    pids = done.stdout.split()
    return int(pids[0]) if len(pids) == 1 else None


def main_thread_seconds(pids: list[int]) -> float:
    """CPU of the processes' main threads only (a worker's other threads: the live-broadcast
    loop, the lease keeper, RQ's scheduler)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/task/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def snapshot(processes: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds per process, by group; a process that is gone is left out."""
    totals: dict[str, dict[int, float]] = {
        "workers_main_thread": {0: main_thread_seconds(processes["workers"])}}
    for name, pids in processes.items():
        totals[name] = {}
        for pid in pids:
            with contextlib.suppress(OSError):
                totals[name][pid] = cpu_seconds(pid)
    return totals


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent by the processes alive at both ends."""
    return sum(after[pid] - before[pid] for pid in after if pid in before)


def postgres_backends() -> list[int]:
    """The PostgreSQL server processes serving this database (not this process's own), when
    the database is PostgreSQL: their CPU is the database's share of a run."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def measure(port: int, workers: int, repeats: int, calls: int) -> list[dict]:
    path = "/hooks/bench/bench-async"
    launcher = start_workers(workers)
    try:
        time.sleep(3)
        members = group_pids(launcher.pid)
        processes = {"workers": [p for p in members if p != launcher.pid],
                     "sweeper": [launcher.pid], "daphne": [WEB_PID], "client": [os.getpid()]}
        if (pid := redis_pid()) is not None:
            processes["redis"] = [pid]
        if backends := postgres_backends():
            processes["postgres"] = backends
        warm_up, _ = fire(port, path, 100, 16)
        runs_per_second(accepted(warm_up))
        batches = []
        for _ in range(repeats):
            if "postgres" in processes:  # connections come and go (CONN_MAX_AGE)
                processes["postgres"] = postgres_backends()
            before, busy_before = snapshot(processes), machine_busy()
            run_ids = accepted(fire(port, path, calls, 16)[0])
            rate = runs_per_second(run_ids)
            after, busy_after = snapshot(processes), machine_busy()
            done = len(run_ids)
            batch = {"workers": workers, "runs_per_s": rate}
            for name in after:
                batch[f"{name}_ms_per_run"] = round(spent(before[name], after[name]) * 1000 / done,
                                                    2)
            batch["machine_busy"] = round((busy_after[0] - busy_before[0])
                                          / (busy_after[1] - busy_before[1]), 2)
            print(json.dumps(batch), file=sys.stderr, flush=True)
            batches.append(batch)
        return batches
    finally:
        stop(launcher)


WEB_PID = 0


def main() -> None:
    global WEB_PID
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=600)
    options = parser.parse_args()
    profile_dir = os.environ.pop("OWLGRID_PROFILE_DIR", None)  # not Daphne
    setup_django()
    prepare()
    port = free_port()
    web = start_web(port)
    WEB_PID = web.pid
    if profile_dir:
        os.environ["OWLGRID_PROFILE_DIR"] = profile_dir
    summary = {}
    try:
        for count in (int(c) for c in options.workers.split(",")):
            batches = measure(port, count, options.repeats, options.calls)
            for key in batches[0]:
                if key != "workers":
                    summary[f"{count}w_{key}"] = statistics.median(b[key] for b in batches)
    finally:
        stop(web)
        forget_runs()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
