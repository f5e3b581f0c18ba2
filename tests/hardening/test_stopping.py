"""A cancel or a step timeout really stops the step (real workers, real local servers): a
spinning render stops within 2 s of a cancel, a cancel during the last step is honoured, and a
timed-out call is not sent again unless the action says that is safe."""

from __future__ import annotations

import time

import pytest

from environments.models import Environment
from runner import services
from runner.models import Run
from tests.execution import wait_for_run, wait_until
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)
LOCAL = {"OWLGRID_OUTBOUND_ALLOWLIST": "127.0.0.1"}
SPIN = ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        "done")


@pytest.fixture
def dev(db):
    # A generous budget: only the cancel can stop the spin in time.
    return Environment.objects.create(name="dev", position=1, expression_time_limit_ms=60_000)


def start(dev, workflow, version):
    return services.run_start(workflow=workflow, version=version, environment=dev,
                              trigger_type="manual", trigger_input={"body": {}})


def slow_answer(request):
    time.sleep(3)  # past the step's 1 s timeout
    return 200, {"Content-Type": "application/json"}, b"{}"


def test_a_cancel_stops_a_spinning_render_within_two_seconds(workers, dev):
    workflow, version = publish_workflow("spinner", [
        {"name": "spin", "type": "set_variable", "inputs": {"name": "x", "value": SPIN}}])
    workers.start(1)
    run = start(dev, workflow, version)
    wait_until(lambda: Run.objects.get(id=run.id).status == "running")
    time.sleep(0.5)  # let the render get going
    asked = time.monotonic()
    assert services.run_cancel(run=run, requested_by="ana") is True
    done = wait_for_run(run.id, timeout=10)
    assert done.status == "cancelled"
    assert time.monotonic() - asked < 2.0
    assert done.error["message"].startswith("cancelled by ana")


def test_a_cancel_during_the_last_step_is_honoured(workers, dev, http_peer):
    workflow, version = publish_workflow("last-step", [
        {"name": "call", "type": "http_request", "inputs": {
            "method": "POST", "url": f"{http_peer.url}/charge", "json": {}}}])
    release = http_peer.hold_first()
    workers.start(1, **LOCAL)
    run = start(dev, workflow, version)
    wait_until(lambda: len(http_peer.requests) == 1)
    assert services.run_cancel(run=run, requested_by="ana") is True
    release.set()
    done = wait_for_run(run.id)
    assert done.status == "cancelled"
    assert "while its last step ran" in done.error["message"]
    assert services.run_cancel(run=done, requested_by="ana") is False  # the API's 409


@pytest.mark.parametrize(("retry_safe", "calls"), [(False, 1), (True, 3)])
def test_a_timed_out_call_is_sent_again_only_when_safe(workers, dev, http_peer, retry_safe,
                                                        calls):
    workflow, version = publish_workflow("slow-peer", [
        {"name": "call", "type": "http_request", "timeout": 1,
         "retry": {"max_attempts": 3, "backoff_seconds": 0.1, "jitter": False},
         "inputs": {"method": "POST", "url": f"{http_peer.url}/slow", "json": {},
                    "retry_safe": retry_safe}}])
    http_peer.reply = slow_answer
    workers.start(1, **LOCAL)
    done = wait_for_run(start(dev, workflow, version).id, timeout=30)
    assert done.status == "failed"
    assert done.error["type"] == "timeout"
    time.sleep(0.5)  # a call abandoned by a timed-out step would still arrive here
    assert len(http_peer.requests) == calls
    if not retry_safe:
        assert "may have taken effect" in done.error["message"]
        # One attempt, stopped at its 1 s timeout, not at the server's 3 s answer.
        assert (done.finished_at - done.started_at).total_seconds() < 2.5
