"""Leases: one owner per run; a zombie that lost its lease keeps nothing it computed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runner import journal, services
from runner.engine import Engine
from runner.models import Run, StepEvent
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(redis_conn):
    workflow, _ = publish_workflow("leased", [
        {"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}},
        {"name": "two", "type": "log", "inputs": {"message": "two"}},
    ])
    return services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})


def expire_lease(run):
    Run.objects.filter(id=run.id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_held_lease_cannot_be_claimed_twice(run):
    assert journal.claim(run.id, "worker-a") is not None
    assert journal.claim(run.id, "worker-b") is None


def test_an_expired_lease_is_reclaimed_and_the_zombie_keeps_nothing(run):
    zombie_run = journal.claim(run.id, "worker-a")
    zombie = Engine(zombie_run, "worker-a")
    expire_lease(run)
    heir_run = journal.claim(run.id, "worker-b")
    assert heir_run is not None
    Engine(heir_run, "worker-b").execute()
    zombie.execute()  # computes, then finds its lease gone at the first commit
    completed = StepEvent.objects.filter(run=run, status="completed").exclude(step_key="")
    assert sorted(completed.values_list("step_key", flat=True)) == ["one", "two"]
    assert set(completed.values_list("worker", flat=True)) == {"worker-b"}
    assert Run.objects.get(id=run.id).status == "completed"


def test_a_resumed_run_skips_steps_completed_before_the_crash(run):
    first = journal.claim(run.id, "worker-a")
    engine = Engine(first, "worker-a")
    # Execute only the first step, as if the worker died right after committing it.
    from runner.engine import Scope

    scope = Scope(trigger={}, vars=engine.vars, steps={}, env={}, run={})
    engine.run_step("one", scope, "")
    expire_lease(run)
    second = journal.claim(run.id, "worker-b")
    Engine(second, "worker-b").execute()
    events = StepEvent.objects.filter(run=run, step_key="one", status="running")
    assert events.count() == 1  # never started again
    finished = Run.objects.get(id=run.id)
    assert finished.status == "completed" and finished.result["vars"] == {"x": 1}


def test_the_last_step_is_written_with_the_run_s_end(run):
    Engine(journal.claim(run.id, "worker-a"), "worker-a").execute()
    last = StepEvent.objects.get(run=run, step_key="two", status="completed")
    end = StepEvent.objects.get(run=run, step_key="", status="completed")
    assert last.id < end.id and last.created_at == end.created_at  # one write, in order
    assert Run.objects.get(id=run.id).next_log_seq == 2  # the step's line went with it


def test_a_zombie_whose_lease_went_during_the_last_step_keeps_neither_it_nor_the_end(run):
    engine = Engine(journal.claim(run.id, "worker-a"), "worker-a")
    flush = engine.flush

    def flush_then_lose_the_lease():
        flush()  # the first step is committed, then another worker takes the run
        Run.objects.filter(id=run.id).update(lease_owner="worker-b")

    engine.flush = flush_then_lose_the_lease
    engine.execute()
    steps = StepEvent.objects.filter(run=run).exclude(step_key="")
    assert set(steps.filter(status="completed").values_list("step_key", flat=True)) == {"one"}
    held = Run.objects.get(id=run.id)
    assert held.status == "running" and held.lease_owner == "worker-b"
    assert not held.finished_at and not held.result
