"""The lease keeper (runner/lease_keeper.py): one thread per process renews the leases of the
runs the process executes, passes a cancel request on, and gives up a lease another took."""

from __future__ import annotations

import threading
import time

import pytest

from runner import journal, services
from runner.lease_keeper import LeaseKeeper
from runner.models import Run
from tests.execution import wait_for_run, wait_until
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


class Held:
    """What the keeper needs of an engine."""

    def __init__(self, run, worker):
        self.run, self.worker, self.cancel, self.lost = run, worker, False, threading.Event()


def hold(name):
    """A run of a new workflow, started and claimed by worker-a."""
    workflow, _ = publish_workflow(name, [
        {"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}}])
    run = services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})
    return Held(journal.claim(run.id, "worker-a"), "worker-a")


@pytest.fixture
def held(redis_conn, settings):
    settings.OWLGRID_LEASE_SECONDS = 3  # renewed every second
    return hold("kept")


def lease_of(held):
    return Run.objects.values_list("lease_owner", "lease_expires_at").get(id=held.run.id)


def renewed_twice(held):
    """Wait until the keeper has renewed this lease twice more: the second renewal is made by
    a pass of the keeper that began after the first one, hence after anything done before."""
    for _ in range(2):
        last = lease_of(held)[1]
        wait_until(lambda last=last: lease_of(held)[1] > last, timeout=5)


def test_a_kept_lease_is_renewed_and_a_cancel_request_reaches_the_engine(held):
    keeper = LeaseKeeper()
    keeper.keep(held)
    witness = hold("witness")  # kept all along: the keeper's passes, seen from outside
    keeper.keep(witness)
    first = lease_of(held)[1]
    wait_until(lambda: lease_of(held)[1] > first, timeout=5)
    Run.objects.filter(id=held.run.id).update(cancel_requested=True)
    wait_until(lambda: held.cancel, timeout=5)
    keeper.release(held)
    renewed_twice(witness)  # a pass under way at the release is over
    released = lease_of(held)[1]
    renewed_twice(witness)  # two renewal intervals: a kept lease would have been renewed
    assert lease_of(held)[1] == released  # released: no longer renewed
    keeper.release(witness)


def test_a_lease_taken_by_another_worker_is_given_up(held):
    keeper = LeaseKeeper()
    keeper.keep(held)
    Run.objects.filter(id=held.run.id).update(lease_owner="worker-b")
    wait_until(held.lost.is_set, timeout=5)
    assert lease_of(held)[0] == "worker-b"
    assert id(held) not in keeper.renewed


def test_a_step_longer_than_the_lease_is_not_taken_over(workers, http_peer):
    """A 6 s call with 4 s leases and a second worker watching: one call, one execution."""

    def slow(request):
        time.sleep(6)
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    http_peer.reply = slow
    workflow, _ = publish_workflow("long-call", [
        {"name": "call", "type": "http_request", "inputs": {"url": http_peer.url}}])
    workers.start(2, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    run = services.run_start(workflow=workflow, trigger_type="manual")
    run = wait_for_run(run.id, timeout=60)
    assert run.status == "completed", run.error
    assert len(http_peer.requests) == 1
