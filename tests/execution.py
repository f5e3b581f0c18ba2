"""Real execution for tests: the test database, a real Redis and real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]


def subprocess_database_url() -> str:
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{config['NAME']}"


@pytest.fixture
def redis_conn():
    import django_rq

    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


class WorkerPool:
    """Worker processes started by a test and killed (for real) when it asks or ends."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        from django.conf import settings

        env = dict(os.environ)
        env.update({
            "DATABASE_URL": subprocess_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "OWLGRID_LEASE_SECONDS": "4",
            "PYTHONUNBUFFERED": "1",
            **extra,
        })
        return env

    def start(self, count: int = 1, *, sweeper: bool = True, fork: bool = False,
              **extra: str) -> subprocess.Popen:
        command = [sys.executable, "manage.py", "run_workers", "--count", str(count)]
        if not sweeper:
            command.append("--no-sweeper")
        if fork:
            command.append("--fork")
        process = subprocess.Popen(  # noqa: S603
            command, cwd=BASE_DIR, env=self.env(**extra), start_new_session=True
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the launcher and everything under it at once: the supervisor's children run
        in process groups of their own (runner/supervisor.py), so the launcher's group alone
        would leave the workers running on until they notice their parent is gone."""
        under = descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # first, so that no supervisor starts a child anew
        for group in process_groups(under) - {process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(process)


def descendants(pid: int) -> list[int]:
    """Every live process started under `pid`, however deep, read from Linux's /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_groups(pids: list[int]) -> set[int]:
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    return groups


@pytest.fixture
def workers(transactional_db, redis_conn):
    pool = WorkerPool()
    yield pool
    pool.stop_all()


def wait_until(predicate, timeout: float = 30) -> None:
    """Poll until `predicate()` is true, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def wait_for_run(run_id, statuses=("completed", "failed", "cancelled"), timeout: float = 30):
    """Poll the database until the run reaches one of `statuses`; returns the run."""
    from runner.models import Run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(id=run_id)
        if run.status in statuses:
            return run
        time.sleep(0.05)
    run = Run.objects.get(id=run_id)
    raise AssertionError(f"run {run_id} is {run.status} ({run.status_reason}) after {timeout}s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_daphne(**extra_env: str) -> tuple[subprocess.Popen, str]:
    """Daphne serving the real ASGI app against the test database; returns it and its URL."""
    import urllib.request

    from django.conf import settings

    port = free_port()
    # SITE_URL: the URLs the pages show (trigger URLs, curl commands) reach this server.
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(),
           "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1",
           "SITE_URL": f"http://127.0.0.1:{port}", **extra_env}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "owlgrid_site.web:application"],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/login/", timeout=1)  # noqa: S310 - our own server
            return process, url
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)


@pytest.fixture
def daphne_server(transactional_db, redis_conn):
    """The real ASGI app (HTTP and websockets) served by Daphne against the test database."""
    process, url = start_daphne()
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=15)
