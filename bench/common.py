"""Shared helpers for benchmarks: Django setup, worker processes, medians."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    empty_queue()


def empty_queue() -> None:
    """Start every part on an empty queue: jobs left by an earlier part or run (the load check
    stops its workers with runs still queued) would be worked through first and skew the
    figures. The benchmarks use a Redis database of their own (REDIS_URL)."""
    from runner.queueing import get_queue

    get_queue().empty()


def start_workers(count: int, *, sweeper: bool = True) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "run_workers", "--count", str(count)]
    if not sweeper:
        command.append("--no-sweeper")
    return subprocess.Popen(  # noqa: S603
        command, cwd=BASE_DIR, start_new_session=True, stdout=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def median(values: list[float]) -> float:
    return statistics.median(values)


def wait_until(predicate, timeout: float = 60, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
