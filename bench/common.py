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

from bench import sandbox  # noqa: E402 - importable once BASE_DIR is on the path


def setup_django() -> None:
    """Django on the bench's own database and Redis (bench/sandbox.py), migrated, the queue
    empty. Run alone, a part opens a sandbox of its own here, before settings are read."""
    sandbox.exit_on_sigterm()  # run.py stops a part with SIGTERM: its workers stop with it
    sandbox.ensure()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    empty_queue()


def empty_queue() -> None:
    """Start every part on an empty queue: jobs left by an earlier part or run (the load check
    stops its workers with runs still queued) would be worked through first and skew the
    figures. It is the bench's own Redis database (bench/sandbox.py), never the app's."""
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
