"""Run control: cancel (waiting at once, running at the next step), retry from the failed step."""

from __future__ import annotations

import time

import pytest

from runner import services
from runner.models import LogLine, Run, StepEvent
from tests.execution import wait_for_run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def start(workflow):
    return services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})


def test_a_waiting_run_is_cancelled_at_once(workers):
    workflow, _ = publish_workflow("long-wait", [
        {"name": "nap", "type": "wait", "inputs": {"seconds": 3600}},
        {"name": "never", "type": "log", "inputs": {"message": "never"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id, statuses=("waiting",))
    # Every block the run will reach has a state from the start: `never` is not started yet.
    assert latest_statuses(run) == {"nap": "waiting", "never": "not_started"}
    assert services.run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None
    assert latest_statuses(run) == {"nap": "cancelled", "never": "cancelled"}


def test_a_running_run_stops_at_the_next_step_boundary(workers):
    workflow, _ = publish_workflow("busy", [
        {"name": "loop", "type": "for_each", "inputs": {"items": "{{ range(400) | list }}"},
         "children": {"body": [{"name": "tick", "type": "wait", "inputs": {"seconds": 0.02}}]}},
        {"name": "after", "type": "log", "inputs": {"message": "after"}},
    ])
    workers.start(1)
    run = start(workflow)
    deadline = time.monotonic() + 20
    while not StepEvent.objects.filter(run=run, step_key="loop.3/tick").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    services.run_cancel(run=Run.objects.get(id=run.id))
    run = wait_for_run(run.id)
    assert run.status == "cancelled"
    ticks = StepEvent.objects.filter(run=run, action_name="tick", status="completed").count()
    assert ticks < 400
    assert not LogLine.objects.filter(run=run, message="after").exists()
    # No step of a cancelled run still reads as under way: the loop ends cancelled too.
    statuses = latest_statuses(run)
    assert statuses["loop"] == "cancelled"
    assert set(statuses.values()) <= {"completed", "cancelled"}


def latest_statuses(run) -> dict[str, str]:
    latest = {}
    for event in StepEvent.objects.filter(run=run).exclude(step_key="").order_by("id"):
        latest[event.step_key] = event.status
    return latest


def test_retry_resumes_at_the_failed_step_without_repeating_completed_ones(workers):
    workflow, _ = publish_workflow("needs-child", [
        {"name": "first", "type": "set_variable", "inputs": {"name": "x", "value": 1}},
        {"name": "call", "type": "trigger_workflow", "inputs": {"workflow": "helper"}},
        {"name": "last", "type": "log", "inputs": {"message": "x={{ vars.x }}"}},
    ])
    workers.start(1)
    failed = wait_for_run(start(workflow).id)
    assert failed.status == "failed"
    publish_workflow("helper", [{"name": "hi", "type": "log", "inputs": {"message": "hi"}}])
    retried = wait_for_run(services.run_retry(run=failed).id)
    assert retried.status == "completed", retried.error
    assert retried.retry_of_id == failed.id
    first = StepEvent.objects.filter(run=retried, step_key="first")
    assert list(first.values_list("worker", flat=True)) == ["copied"]  # not executed again
    assert LogLine.objects.filter(run=retried, message="x=1").exists()


def test_retry_on_the_latest_version(workers):
    workflow, _ = publish_workflow("fixable", [
        {"name": "boom", "type": "fail", "inputs": {"message": "bug"}},
    ])
    workers.start(1)
    failed = wait_for_run(start(workflow).id)
    publish_workflow("fixable", [
        {"name": "boom", "type": "log", "inputs": {"message": "fixed"}},
    ])
    retried = wait_for_run(services.run_retry(run=failed, latest_version=True).id)
    assert retried.status == "completed" and retried.version.number == 2
