"""The journal's contract, as the engine and the rest of `runner` rely on it.

One suite for every database: it runs on whatever DATABASE_URL names (SQLite by default,
PostgreSQL in CI), and must pass on both.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from runner import journal, queueing
from runner.models import LogLine, Run, RunLock, StepEvent
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)
STEPS = [{"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}}]


@pytest.fixture
def workflow(redis_conn):
    workflow, _ = publish_workflow("contract", STEPS)
    return workflow


EMPTY_PLAN = {"root": [], "actions": {}}
LOCK_PLAN = {"root": ["guard"], "actions": {
    "guard": {"name": "guard", "type": "lock", "children": {"body": []}}}}


def new_run(workflow, plan=EMPTY_PLAN, **fields):
    version = workflow.versions.order_by("-number").first()
    return journal.create_run(workflow=workflow, version=version, trigger_type="manual",
                              trigger_input={}, plan=plan, **fields)


@pytest.fixture
def run(workflow):
    return new_run(workflow)


@pytest.fixture
def claimed(run):
    return journal.claim(run.id, "worker-a")


def run_events(run):
    return list(StepEvent.objects.filter(run_id=run.id, step_key="").order_by("id")
                .values_list("status", "worker"))


def step(status, previous=None, key="one", **fields):
    return {"step_key": key, "action_name": key, "action_type": "set_variable",
            "status": status, "previous": previous, **fields}


def stored(run):
    return Run.objects.get(id=run.id)


def expire_lease(run):
    Run.objects.filter(id=run.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def queued_job_ids():
    return set(queueing.get_queue().job_ids)


# --- create -------------------------------------------------------------------------------


def test_a_created_run_is_queued_with_its_job_only_once_committed(workflow):
    with transaction.atomic():
        run = new_run(workflow)
        assert run.job_id not in queued_job_ids()
    assert run.job_id in queued_job_ids()
    assert (stored(run).status, stored(run).lease_owner) == ("queued", "")
    assert run_events(run) == [("not_started", "")]


# --- claim --------------------------------------------------------------------------------


def test_a_first_claim_leases_the_run_and_says_its_journal_is_empty(run):
    claimed, fresh = journal.claim_run(run.id, "worker-a")
    assert fresh and claimed.status == "running" and claimed.workflow.name == "contract"
    row = stored(run)
    assert (row.status, row.lease_owner) == ("running", "worker-a")
    assert row.lease_expires_at > timezone.now() and row.started_at == claimed.started_at
    assert run_events(run) == [("not_started", ""), ("running", "")]


def test_a_held_lease_is_not_claimed_twice(claimed):
    assert journal.claim(claimed.id, "worker-b") is None
    assert journal.claim(claimed.id, "worker-a") is None  # not even by its holder
    assert stored(claimed).lease_owner == "worker-a"
    assert len(run_events(claimed)) == 2


def test_an_expired_lease_is_reclaimed_as_a_resumed_run(claimed):
    expire_lease(claimed)
    heir, fresh = journal.claim_run(claimed.id, "worker-b")
    assert not fresh and heir.lease_owner == "worker-b"
    assert heir.started_at == claimed.started_at
    assert run_events(claimed)[-1] == ("running", "worker-b")
    resumed = StepEvent.objects.filter(run_id=claimed.id, step_key="").order_by("-id").first()
    assert resumed.output == {"resumed": True}


def test_a_run_whose_executors_died_holding_it_twice_is_failed_not_claimed(claimed):
    journal.commit(claimed, "worker-a", events=[step("running")], lines=[])
    expire_lease(claimed)
    assert journal.claim(claimed.id, "worker-b") is not None  # its first holder died
    expire_lease(claimed)
    assert journal.claim(claimed.id, "worker-c") is None  # and its second
    row = stored(claimed)
    assert (row.status, row.lease_owner, row.error["type"]) == ("failed", "", "poison_run")
    assert "'one'" in row.error["message"]


def test_a_finished_run_is_never_claimed(claimed):
    journal.finish(claimed, "worker-a", status="completed", result={})
    expire_lease(claimed)
    assert journal.claim(claimed.id, "worker-b") is None


# --- commit -------------------------------------------------------------------------------


def test_a_commit_writes_events_and_lines_and_renews_the_lease(claimed):
    before = stored(claimed).lease_expires_at
    cancel = journal.commit(claimed, "worker-a",
                            events=[step("running"), step("completed", "running", output=1)],
                            lines=[{"seq": 1, "step_key": "one", "message": "hi"},
                                   {"seq": 2, "level": "warning", "message": "there"}])
    assert cancel is False
    row = stored(claimed)
    assert row.next_log_seq == 3 and row.lease_expires_at >= before
    assert list(StepEvent.objects.filter(run_id=claimed.id, step_key="one").order_by("id")
                .values_list("status", "worker", "output")) == [
        ("running", "worker-a", None), ("completed", "worker-a", 1)]
    assert list(LogLine.objects.filter(run_id=claimed.id).order_by("seq")
                .values_list("seq", "step_key", "level", "message")) == [
        (1, "one", "info", "hi"), (2, "", "warning", "there")]


def test_a_zombie_s_commit_raises_lease_lost_and_writes_nothing(claimed):
    expire_lease(claimed)
    journal.claim(claimed.id, "worker-b")
    events_before = StepEvent.objects.filter(run_id=claimed.id).count()
    with pytest.raises(journal.LeaseLost):
        journal.commit(claimed, "worker-a", events=[step("running")],
                       lines=[{"seq": 1, "message": "lost"}], response={"status": 200})
    row = stored(claimed)
    assert (row.lease_owner, row.next_log_seq, row.response) == ("worker-b", 1, None)
    assert StepEvent.objects.filter(run_id=claimed.id).count() == events_before
    assert not LogLine.objects.filter(run_id=claimed.id).exists()


def test_an_impossible_step_transition_is_refused(claimed):
    from runner.states import InvalidTransition

    with pytest.raises(InvalidTransition):
        journal.commit(claimed, "worker-a", events=[step("running", "completed")], lines=[])


def test_a_heartbeat_renews_the_lease_and_a_zombie_s_raises(claimed):
    Run.objects.filter(id=claimed.id).update(lease_expires_at=timezone.now())
    assert journal.heartbeat(claimed, "worker-a") is False
    assert stored(claimed).lease_expires_at > timezone.now()
    with pytest.raises(journal.LeaseLost):
        journal.heartbeat(claimed, "worker-b")


# --- cancel -------------------------------------------------------------------------------


def test_a_running_run_s_cancel_reaches_its_executor_at_its_next_write(claimed):
    assert journal.request_cancel(claimed) is True
    assert stored(claimed).status == "running"  # its executor stops it
    assert journal.commit(claimed, "worker-a", events=[step("running")], lines=[]) is True
    assert journal.heartbeat(claimed, "worker-a") is True


def test_a_queued_run_is_cancelled_at_once_and_a_finished_one_not_at_all(run):
    assert journal.request_cancel(run) is True
    row = stored(run)
    assert (row.status, row.cancel_requested) == ("cancelled", True)
    assert row.finished_at is not None and row.error["type"] == "cancelled"
    assert run_events(run)[-1] == ("cancelled", "")
    assert journal.request_cancel(run) is False


# --- park and wake ------------------------------------------------------------------------


def test_a_parked_run_frees_its_lease_and_is_claimed_again_once_due(claimed):
    later = timezone.now() + timedelta(minutes=5)
    journal.park(claimed, "worker-a", until=later, reason="wait")
    row = stored(claimed)
    assert (row.status, row.lease_owner, row.status_reason) == ("waiting", "", "wait")
    assert row.wake_at == later and row.waiting_since is not None
    assert run_events(claimed)[-1] == ("waiting", "")
    assert journal.claim(claimed.id, "worker-b") is None  # not due yet
    assert journal.wake(claimed.id) is True
    again, fresh = journal.claim_run(claimed.id, "worker-b")
    assert again.lease_owner == "worker-b" and not fresh
    assert journal.wake(claimed.id) is False  # running, not waiting


def test_a_zombie_cannot_park(claimed):
    expire_lease(claimed)
    journal.claim(claimed.id, "worker-b")
    with pytest.raises(journal.LeaseLost):
        journal.park(claimed, "worker-a", until=None, reason="wait")
    assert (stored(claimed).status, stored(claimed).lease_owner) == ("running", "worker-b")


def test_a_parent_waiting_on_a_child_is_woken_by_the_child_s_end(workflow, claimed):
    child = new_run(workflow, parent_run=claimed)
    journal.park(claimed, "worker-a", until=None, reason=f"child:{child.id}")
    assert stored(claimed).wake_at is None
    journal.finish(journal.claim(child.id, "worker-c"), "worker-c", status="completed")
    assert stored(claimed).wake_at is not None
    assert journal.claim(claimed.id, "worker-b") is not None


# --- finish -------------------------------------------------------------------------------


def test_a_finish_writes_the_end_with_the_last_step_and_frees_the_lease(claimed):
    journal.finish(claimed, "worker-a", status="completed", result={"output": 1},
                   events=[step("running"), step("completed", "running")],
                   lines=[{"seq": 1, "message": "bye"}], response={"status": 200})
    row = stored(claimed)
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("completed", "", None)
    assert row.result == {"output": 1} and row.finished_at is not None
    assert row.response == {"status": 200} and row.next_log_seq == 2
    assert list(StepEvent.objects.filter(run_id=claimed.id).order_by("id")
                .values_list("step_key", "status"))[-3:] == [
        ("one", "running"), ("one", "completed"), ("", "completed")]
    assert claimed.status == "completed"


def test_a_zombie_s_finish_raises_lease_lost_and_writes_nothing(claimed):
    expire_lease(claimed)
    journal.claim(claimed.id, "worker-b")
    with pytest.raises(journal.LeaseLost):
        journal.finish(claimed, "worker-a", status="failed", error={"type": "x"},
                       events=[step("running")], lines=[{"seq": 1, "message": "m"}])
    row = stored(claimed)
    assert (row.status, row.lease_owner, row.finished_at) == ("running", "worker-b", None)
    assert not StepEvent.objects.filter(run_id=claimed.id, step_key="one").exists()


def test_only_an_executor_finishes_with_step_writes(run):
    with pytest.raises(ValueError, match="worker"):
        journal.finish(run, None, status="cancelled", events=[step("running")])


# --- locks, concurrency slots -------------------------------------------------------------


def test_a_lock_is_held_by_one_run_until_released_and_wakes_the_next(workflow, claimed):
    other = journal.claim(new_run(workflow).id, "worker-b")
    assert journal.try_acquire_lock(claimed, "door", "one")
    assert journal.try_acquire_lock(claimed, "door", "one")  # its own
    assert not journal.try_acquire_lock(other, "door", "one")
    journal.park(other, "worker-b", until=None, reason="lock:door")
    assert stored(other).wake_at is None
    journal.release_lock(claimed, "door")
    assert not RunLock.objects.exists() and stored(other).wake_at is not None


def test_a_run_s_end_releases_its_locks_and_wakes_their_waiter(workflow):
    claimed = journal.claim(new_run(workflow, plan=LOCK_PLAN).id, "worker-a")
    other = journal.claim(new_run(workflow, plan=LOCK_PLAN).id, "worker-b")
    assert journal.try_acquire_lock(claimed, "door", "one")
    journal.park(other, "worker-b", until=None, reason="lock:door")
    journal.finish(claimed, "worker-a", status="completed")
    assert not RunLock.objects.exists() and stored(other).wake_at is not None
    again = journal.claim(other.id, "worker-b")
    assert journal.try_acquire_lock(again, "door", "one")


def test_a_concurrency_limit_lets_the_oldest_runs_start_first(workflow):
    workflow.concurrency_limit = 1
    workflow.save()
    first = journal.claim(new_run(workflow).id, "worker-a")
    second = journal.claim(new_run(workflow).id, "worker-b")
    assert not journal.take_concurrency_slot(second)  # an older run has not had its turn
    assert journal.take_concurrency_slot(first) and stored(first).holds_slot
    journal.park(second, "worker-b", until=None, reason="concurrency")
    journal.finish(first, "worker-a", status="completed")
    assert not stored(first).holds_slot and stored(second).wake_at is not None
    assert journal.take_concurrency_slot(journal.claim(second.id, "worker-b"))


# --- approvals ----------------------------------------------------------------------------


def test_an_approval_is_decided_once_and_wakes_the_run(claimed):
    ask = {"step_key": "ask", "action_name": "ask", "action_type": "approval"}
    journal.commit(claimed, "worker-a", lines=[], events=[
        {**ask, "status": "running", "previous": None, "inputs": {"group": "ops"}},
        {**ask, "status": "waiting", "previous": "running", "output": {"state": {"n": 1}}}])
    assert not journal.record_decision(claimed.id, "ask", {"decision": "approve"})  # running
    journal.park(claimed, "worker-a", until=None, reason="approval")
    assert journal.record_decision(claimed.id, "ask", {"decision": "approve"})
    assert not journal.record_decision(claimed.id, "ask", {"decision": "reject"})
    latest = StepEvent.objects.filter(run_id=claimed.id, step_key="ask").order_by("-id").first()
    assert latest.output == {"state": {"n": 1, "decision": {"decision": "approve"}}}
    assert stored(claimed).wake_at is not None


def test_a_retry_starts_with_the_completed_leaf_steps_of_its_source(workflow, claimed):
    journal.finish(claimed, "worker-a", status="failed", error={"type": "x"},
                   events=[step("running"), step("completed", "running", output=1),
                           step("running", key="two")])
    retry = new_run(workflow, retry_of=claimed)
    retry.plan = {"actions": {"one": {"children": {}}, "two": {"children": {}}}}
    journal.copy_completed_steps(source=claimed, target=retry)
    assert list(StepEvent.objects.filter(run_id=retry.id).exclude(step_key="")
                .values_list("step_key", "status", "output", "worker")) == [
        ("one", "completed", 1, "copied")]
    assert journal.claim_run(retry.id, "worker-b")[1] is False  # not a fresh journal
