"""The web process dies while a synchronous caller waits for its run: the run, executed by a
worker and never by the web process, goes on untouched and completes, each step once."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

import httpx
import pytest

from environments.models import Deployment, Environment
from runner.models import Run, StepEvent
from tests.execution import start_daphne, wait_for_run, wait_until
from workflows.format import workflow_import

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def deploy_slow_sync_workflow(peer_url: str) -> None:
    environment, _ = Environment.objects.get_or_create(name="dev", defaults={"position": 1})
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "checkout",
        "triggers": [{"name": "hook", "type": "http", "settings": {"mode": "sync", "timeout": 30},
                      "access": {"mode": "public"}}],
        "actions": [
            {"name": "before", "type": "set_variable", "inputs": {"name": "n", "value": 1}},
            {"name": "call", "type": "http_request", "inputs": {"url": peer_url}},
            {"name": "answer", "type": "respond", "inputs": {"body": {"paid": True}}},
        ],
    }, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environment,
                              version=version)


def test_sigkill_of_the_web_process_leaves_the_run_to_its_worker(workers, http_peer):
    release = http_peer.hold_first()  # answered once the web process is dead
    deploy_slow_sync_workflow(http_peer.url)
    env = {"OWLGRID_OUTBOUND_ALLOWLIST": "127.0.0.1"}
    workers.start(1, **env)
    web, url = start_daphne(**env)
    caller = threading.Thread(target=lambda: _call_ignoring_errors(f"{url}/hooks/dev/checkout"))
    caller.start()
    try:
        wait_until(lambda: http_peer.requests, timeout=30)
        run = Run.objects.get()
        assert run.status == "running" and ":web-" not in run.lease_owner
    finally:
        os.killpg(web.pid, signal.SIGKILL)  # the web process, while its caller waits
        web.wait(timeout=15)
        release.set()
        caller.join(timeout=30)
    run = wait_for_run(run.id, timeout=60)
    assert run.status == "completed", run.error
    assert run.response["body"] == {"paid": True}
    for key in ("before", "call", "answer"):
        statuses = StepEvent.objects.filter(run=run, step_key=key).values_list("status",
                                                                               flat=True)
        assert list(statuses) == ["not_started", "running", "completed"]
    assert len(http_peer.requests) == 1


def _call_ignoring_errors(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
        httpx.post(url, json={}, timeout=30)
