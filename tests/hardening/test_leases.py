"""Leases: one owner per run; a zombie that lost its lease keeps nothing it computed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    from runner.scope import Scope

    scope = Scope(trigger={}, vars=engine.vars, steps={}, env={}, run={})
    engine.run_step("one", scope, "")
    expire_lease(run)
    second = journal.claim(run.id, "worker-b")
    Engine(second, "worker-b").execute()
    events = StepEvent.objects.filter(run=run, step_key="one", status="running")
    assert events.count() == 1  # never started again
    finished = Run.objects.get(id=run.id)
    assert finished.status == "completed" and finished.result["vars"] == {"x": 1}


def test_the_last_step_is_written_with_the_run_s_end(run, monkeypatch):
    committed = []
    commit = journal.commit

    def counting_commit(*args, **kwargs):
        committed.extend((event["step_key"], event["status"]) for event in kwargs["events"])
        return commit(*args, **kwargs)

    monkeypatch.setattr(journal, "commit", counting_commit)
    Engine(journal.claim(run.id, "worker-a"), "worker-a").execute()
    # Only its `not_started` went with an earlier commit: its run and end went with the run's.
    assert [status for key, status in committed if key == "two"] == ["not_started"]
    last = StepEvent.objects.get(run=run, step_key="two", status="completed")
    end = StepEvent.objects.get(run=run, step_key="", status="completed")
    assert last.id < end.id
    assert Run.objects.get(id=run.id).next_log_seq == 2  # the step's line went with it


def test_a_zombie_whose_lease_went_during_the_last_step_keeps_neither_it_nor_the_end(run):
    engine = Engine(journal.claim(run.id, "worker-a"), "worker-a")
    flush = engine.recorder.flush

    def flush_then_lose_the_lease():
        flush()  # the first step is committed, then another worker takes the run
        Run.objects.filter(id=run.id).update(lease_owner="worker-b")

    engine.recorder.flush = flush_then_lose_the_lease
    engine.execute()
    steps = StepEvent.objects.filter(run=run).exclude(step_key="")
    assert set(steps.filter(status="completed").values_list("step_key", flat=True)) == {"one"}
    held = Run.objects.get(id=run.id)
    assert held.status == "running" and held.lease_owner == "worker-b"
    assert not held.finished_at and not held.result


def test_what_a_step_writes_is_stored_character_for_character(run):
    """Events and lines travel to PostgreSQL as one JSON document per write: quotes,
    backslashes, newlines, non-ASCII text and JSON nulls inside values come back as they were;
    a missing value stays SQL NULL."""
    tricky = 'quote \' double " backslash \\ tab \t newline \n é 🦉 {"not": "json"} null'
    output = {"text": tricky, "none": None, "list": [1, None, "ü"], "nested": {"a": [{}]}}
    journal.claim(run.id, "worker-a")
    journal.commit(run, "worker-a", events=[
        {"step_key": "one", "action_name": "one", "action_type": "set_variable",
         "status": "running", "previous": None, "inputs": {"value": tricky}},
        {"step_key": "one", "action_name": "one", "action_type": "set_variable",
         "status": "completed", "previous": "running", "inputs": {"value": tricky},
         "output": output}],
        lines=[{"seq": 1, "step_key": "one", "level": "warning", "message": tricky},
               {"seq": 2, "message": "plain"}])
    running, completed = StepEvent.objects.filter(run=run, step_key="one").order_by("id")
    assert running.inputs == {"value": tricky} and running.output is None
    assert completed.output == output and completed.error is None
    assert StepEvent.objects.filter(run=run, step_key="one", output__isnull=True).count() == 1
    assert list(run.log_lines.order_by("seq").values_list("seq", "step_key", "level",
                                                          "message")) == [
        (1, "one", "warning", tricky), (2, "", "info", "plain")]


@pytest.mark.parametrize("trigger_type", ["manual", "http"])
def test_a_run_s_end_asks_once_whether_anyone_watches_runs_finish(redis_conn, environments,
                                                                  trigger_type):
    """The run-finished reactions first ask whether a deployment in the run's environment has a
    run-event trigger (almost never), once, after the finishing write has committed."""
    workflow, version = publish_workflow("watched", [
        {"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}},
    ])
    run = services.run_start(workflow=workflow, version=version, trigger_type=trigger_type,
                             environment=environments["dev"], trigger_input={})
    claimed = journal.claim(run.id, "worker-a")
    with CaptureQueriesContext(connection) as queries:
        journal.finish(claimed, "worker-a", status="completed", result={})
    asked = [q["sql"] for q in queries.captured_queries if "workflows_trigger" in q["sql"]]
    assert len(asked) == 1
    assert Run.objects.get(id=run.id).status == "completed"
