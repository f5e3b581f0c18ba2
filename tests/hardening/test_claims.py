"""A worker's claim (SQL built by the journal) and what the worker writes around a run: the
status change and its event, the lease, what a claim refuses, and the sweeper's re-queueing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from runner import broadcast, jobs, journal, services, sweeper
from runner.engine import Engine
from runner.models import Run, StepEvent
from tests.runner.builders import publish_workflow
from workflows.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)
STEPS = [{"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}}]


@pytest.fixture
def run(redis_conn, environments):
    workflow, version = publish_workflow("claimed", STEPS)
    return services.run_start(workflow=workflow, version=version, environment=environments["dev"],
                              trigger_type="manual", trigger_input={})


def run_events(run):
    return list(StepEvent.objects.filter(run=run, step_key="").order_by("id")
                .values_list("status", "worker", "output"))


def test_a_first_claim_leases_the_run_marks_it_running_and_loads_what_the_engine_reads(run):
    claimed, fresh = journal.claim_run(run.id, "worker-a")
    assert fresh
    stored = Run.objects.get(id=run.id)
    assert (stored.status, stored.lease_owner) == ("running", "worker-a")
    assert stored.started_at is not None and stored.lease_expires_at > timezone.now()
    assert (claimed.status, claimed.started_at) == ("running", stored.started_at)
    assert run_events(run) == [("not_started", "", None), ("running", "", None)]
    with CaptureQueriesContext(connection) as queries:
        assert claimed.workflow.name == "claimed" and claimed.environment.name == "dev"
        assert claimed.trigger is None and claimed.trigger_input == {}
    assert not queries.captured_queries


def test_a_claim_refuses_a_run_leased_by_someone_else(run):
    assert journal.claim(run.id, "worker-a") is not None
    assert journal.claim(run.id, "worker-b") is None
    assert Run.objects.get(id=run.id).lease_owner == "worker-a"
    assert [event[0] for event in run_events(run)] == ["not_started", "running"]


def test_workers_racing_for_a_run_get_it_once(run, environments):
    runs = [run] + [services.run_start(workflow=run.workflow, version=run.version,
                                       environment=environments["dev"], trigger_type="manual")
                    for _ in range(4)]
    for each in runs:
        barrier = threading.Barrier(2)

        def take(worker, each=each, barrier=barrier):
            barrier.wait()
            try:
                return journal.claim(each.id, worker) is not None
            finally:
                connection.close()

        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(take, ["worker-a", "worker-b"])) == [False, True]
        assert [event[0] for event in run_events(each)] == ["not_started", "running"]


def test_a_run_whose_holder_died_is_resumed_with_an_event_saying_so(run):
    first, _ = journal.claim_run(run.id, "worker-a")
    Run.objects.filter(id=run.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second, fresh = journal.claim_run(run.id, "worker-b")
    assert not fresh  # its journal may hold completed steps: the engine reads it
    assert second.started_at == first.started_at and second.lease_owner == "worker-b"
    assert run_events(run)[-1] == ("running", "worker-b", {"resumed": True})


def test_a_waiting_run_is_claimed_only_once_due_and_finished_runs_never(run):
    later = timezone.now() + timedelta(minutes=5)
    Run.objects.filter(id=run.id).update(status="waiting", wake_at=later,
                                         started_at=timezone.now())
    assert journal.claim(run.id, "worker-a") is None
    Run.objects.filter(id=run.id).update(wake_at=timezone.now())
    claimed, fresh = journal.claim_run(run.id, "worker-a")
    assert claimed.status == "running" and not fresh
    assert run_events(run)[-1] == ("running", "", None)
    journal.finish(claimed, "worker-a", status="completed", result={"ok": True})
    assert journal.claim(run.id, "worker-b") is None
    finished = Run.objects.get(id=run.id)
    assert (finished.status, finished.lease_owner) == ("completed", "")
    assert finished.result == {"ok": True}
    assert run_events(run)[-1][0] == "completed"


def test_a_retry_is_not_a_fresh_journal(run, environments):
    claimed = journal.claim(run.id, "worker-a")
    journal.finish(claimed, "worker-a", status="failed", error={"type": "x", "message": "m"})
    retry = services.run_retry(run=Run.objects.get(id=run.id))  # no user: the system retries
    _, fresh = journal.claim_run(retry.id, "worker-a")
    assert not fresh


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_only_a_synchronous_trigger_gets_the_run_s_end_pushed(redis_conn, environments, mode):
    workflow, version = publish_workflow(f"hook-{mode}", STEPS)
    trigger = Trigger(version=version, name="hook", type="http", settings={"mode": mode},
                      access="public")
    Trigger.objects.bulk_create([trigger])  # the version is published: no model save
    run = services.run_start(workflow=workflow, version=version, environment=environments["dev"],
                             trigger=trigger, trigger_type="http", trigger_input={})
    claimed = journal.claim(run.id, "worker-a")
    Engine(claimed, "worker-a", fresh=True).execute()
    assert Run.objects.get(id=run.id).status == "completed"
    assert redis_conn.llen(broadcast.answer_key(run.id)) == (1 if mode == "sync" else 0)


def test_the_sweeper_does_not_requeue_a_run_executed_since_it_looked(run):
    job_id = Run.objects.get(id=run.id).job_id
    claimed = journal.claim(run.id, "worker-a")
    Engine(claimed, "worker-a").execute()
    assert not journal.requeue(run.id, replacing=("queued", job_id))
    assert Run.objects.get(id=run.id).job_id == job_id


def test_the_sweeper_requeues_a_queued_run_whose_job_is_gone(run, redis_conn):
    Run.objects.filter(id=run.id).update(created_at=timezone.now() - timedelta(minutes=1))
    redis_conn.flushdb()
    assert sweeper.sweep() == 1
    requeued = Run.objects.get(id=run.id)
    assert requeued.job_id != run.job_id
    assert sweeper._job_statuses([(run.id, requeued.job_id, "queued")]) == ["queued"]
    assert sweeper.sweep() == 0  # its new job is queued: nothing to do


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server connection to lose")
def test_a_job_whose_kept_connection_died_claims_on_a_new_one(run):
    connection.ensure_connection()
    connection.health_check_enabled = False  # as in a worker
    connection.connection.close()  # behind Django's back, as a database restart would
    assert jobs.execute_run(str(run.id)) == "done"
    assert Run.objects.get(id=run.id).status == "completed"
