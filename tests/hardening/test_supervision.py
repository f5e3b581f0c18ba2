"""`manage.py serve` keeps the service up: a worker killed with SIGKILL is replaced within 5 s
while the web server goes on answering, the run it held completes, and stopping `serve` leaves
no process behind (RQ's scheduler included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

from environments.models import Environment
from runner import services
from runner.models import Run
from tests.execution import (
    BASE_DIR,
    descendants,
    free_port,
    subprocess_database_url,
    wait_for_run,
    wait_until,
)
from tests.hardening.test_expression_bombs import WebWatch
from tests.runner.builders import publish_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def worker_pids(serve: subprocess.Popen) -> set[int]:
    """The `run_workers --one` processes under `serve` (not their scheduler children)."""
    found = set()
    for pid in descendants(serve.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"--one" in arguments and parent == serve.pid:
            found.add(pid)
    return found


@pytest.fixture
def serve(redis_conn):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=subprocess_database_url(), REDIS_URL=settings.REDIS_URL,
               OWLGRID_LEASE_SECONDS="3", OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1",
               PYTHONUNBUFFERED="1")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2",
         "--no-demo"], cwd=BASE_DIR, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), timeout=60)
    wait_until(lambda: len(worker_pids(process)) == 2, timeout=30)
    yield process, url
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/login/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_worker_is_replaced_and_its_run_completes(serve, http_peer):
    process, url = serve
    release = http_peer.hold_first()
    dev = Environment.objects.create(name="dev", position=1)
    workflow, version = publish_workflow("held", [
        {"name": "call", "type": "http_request", "inputs": {"url": http_peer.url}},
        {"name": "after", "type": "set_variable", "inputs": {"name": "done", "value": True}}])
    run = services.run_start(workflow=workflow, version=version, environment=dev,
                             trigger_type="manual", trigger_input={})
    with WebWatch(url) as web:
        wait_until(lambda: http_peer.requests, timeout=30)
        holder = int(Run.objects.get(id=run.id).lease_owner.split(":")[1])
        before = worker_pids(process)
        assert holder in before
        os.kill(holder, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: len(worker_pids(process) - before) == 1, timeout=5)
        assert time.monotonic() - killed_at < 5
        release.set()
        run = wait_for_run(run.id, timeout=60)
    assert run.status == "completed", run.error
    assert web.failures == 0
    everything = set(descendants(process.pid))
    assert everything
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    wait_until(lambda: not {pid for pid in everything if os.path.exists(f"/proc/{pid}")},
               timeout=15)
