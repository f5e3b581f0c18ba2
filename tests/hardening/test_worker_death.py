"""A worker killed with SIGKILL mid-step: the run resumes on another worker, never repeating a
completed step, and never stays `running`."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from runner import services
from runner.models import LogLine, Run, StepEvent
from tests.execution import wait_for_run, wait_until
from tests.runner.builders import publish_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_sigkill_mid_step_resumes_elsewhere_without_repeating_completed_steps(workers):
    workflow, _ = publish_workflow("survivor", [
        {"name": "before", "type": "set_variable", "inputs": {"name": "n", "value": 1}},
        {"name": "busy", "type": "log", "inputs": {"message": "tick", "repeat": 60000}},
        {"name": "after", "type": "log", "inputs": {"message": "after"}},
    ])
    first = workers.start(1, sweeper=False)
    run = services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})
    wait_until(lambda: LogLine.objects.filter(run_id=run.id).exists())
    owner = Run.objects.get(id=run.id).lease_owner
    workers.kill(first, signal.SIGKILL)  # the whole worker process group, no cleanup
    assert Run.objects.get(id=run.id).status == "running"
    workers.start(1)  # a fresh worker and the sweeper, which re-queues the orphaned run
    run = wait_for_run(run.id, timeout=60)
    assert run.status == "completed", run.error
    before = StepEvent.objects.filter(run=run, step_key="before")
    assert list(before.values_list("status", flat=True)) == [
        "not_started", "running", "completed"]
    busy_workers = set(
        StepEvent.objects.filter(run=run, step_key="busy").values_list("worker", flat=True)
    )
    assert owner in busy_workers and len(busy_workers) == 2
    assert LogLine.objects.filter(run=run, message="after").count() == 1
    seqs = list(LogLine.objects.filter(run=run).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # numbered without gaps across the crash
    assert str(os.getpid()) not in owner


def test_sigkill_of_only_the_work_horse_resumes_the_run(workers, http_peer):
    """Fault: with RQ's forking Worker, the work horse executing the step is SIGKILLed while
    its worker lives on; the lease expires and the run resumes, completed steps untouched."""

    release = http_peer.hold_first()  # answered once the work horse is dead
    workflow, _ = publish_workflow("horse", [
        {"name": "before", "type": "set_variable", "inputs": {"name": "n", "value": 1}},
        {"name": "call", "type": "http_request", "inputs": {"url": http_peer.url}},
        {"name": "after", "type": "log", "inputs": {"message": "after"}},
    ])
    launcher = workers.start(1, fork=True, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    run = services.run_start(workflow=workflow, trigger_type="manual")
    wait_until(lambda: http_peer.requests, timeout=30)
    horse = int(Run.objects.get(id=run.id).lease_owner.split(":")[1])
    os.kill(horse, signal.SIGKILL)  # pending once kill returns: the horse runs no more code
    release.set()
    run = wait_for_run(run.id, timeout=60)
    assert launcher.poll() is None  # the worker itself lived on
    assert run.status == "completed", run.error
    before = StepEvent.objects.filter(run=run, step_key="before")
    assert list(before.values_list("status", flat=True)) == [
        "not_started", "running", "completed"]
    assert len(http_peer.requests) == 2  # the dead horse's call, and the resumed run's
    assert LogLine.objects.filter(run=run, message="after").count() == 1


def test_a_run_that_kills_its_worker_twice_is_failed_as_a_poison_run(workers, http_peer):
    """Each time the run reaches its call, its worker dies: the second death ends the run
    rather than handing it to the next worker forever."""
    hang = threading.Event()
    http_peer.reply = lambda request: (hang.wait(60), (200, {}, b"{}"))[1]
    http_peer.releases.append(hang)  # set when the peer closes
    workflow, _ = publish_workflow("poison", [
        {"name": "deadly", "type": "http_request", "inputs": {"url": http_peer.url}}])
    env = {"OWLGRID_OUTBOUND_ALLOWLIST": "127.0.0.1", "OWLGRID_LEASE_SECONDS": "2"}
    run = services.run_start(workflow=workflow, trigger_type="manual")
    for deaths in (1, 2):
        pool = workers.start(1, **env)
        wait_until(lambda deaths=deaths: len(http_peer.requests) == deaths, timeout=30)
        workers.kill(pool, signal.SIGKILL)
    workers.start(1, **env)
    run = wait_for_run(run.id, timeout=30)
    assert run.status == "failed"
    assert run.error["type"] == "poison_run"
    assert "'deadly'" in run.error["message"]
    assert len(http_peer.requests) == 2  # never handed to a third worker
