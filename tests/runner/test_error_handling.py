"""Retries, continue_on_error, reverts and try/catch."""

from __future__ import annotations

import pytest

from runner import services
from runner.models import LogLine, StepEvent
from tests.execution import wait_for_run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def start(workflow):
    return services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})


def statuses(run, key):
    return list(
        StepEvent.objects.filter(run=run, step_key=key).order_by("id").values_list(
            "status", flat=True
        )
    )


def test_retries_stop_after_exactly_the_configured_count(workers):
    workflow, _ = publish_workflow("retrying", [
        {"name": "call", "type": "trigger_workflow", "inputs": {"workflow": "does-not-exist"},
         "retry": {"max_attempts": 3, "backoff_seconds": 0.01, "jitter": False}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "failed"
    assert statuses(run, "call") == [
        "not_started", "running", "retrying", "running", "retrying", "running", "failed",
    ]
    attempts = StepEvent.objects.filter(run=run, step_key="call", status="running")
    assert list(attempts.values_list("attempt", flat=True)) == [1, 2, 3]


def test_reverts_run_in_reverse_order_of_completion(workers):
    workflow, _ = publish_workflow("compensate", [
        {"name": "reserve", "type": "set_variable", "inputs": {"name": "r", "value": 1},
         "revert": {"type": "log", "inputs": {"message": "release {{ output.value }}"}}},
        {"name": "charge", "type": "set_variable", "inputs": {"name": "c", "value": 2},
         "revert": {"type": "log", "inputs": {"message": "refund {{ output.value }}"}}},
        {"name": "note", "type": "log", "inputs": {"message": "no revert here"}},
        {"name": "boom", "type": "fail", "inputs": {"message": "card declined"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "failed"
    reverted = StepEvent.objects.filter(run=run, status="reverted").order_by("id")
    assert list(reverted.values_list("step_key", flat=True)) == ["charge", "reserve"]
    messages = list(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert messages.index("refund 2") < messages.index("release 1")


def test_continue_on_error_and_try_catch(workers):
    workflow, _ = publish_workflow("tolerant", [
        {"name": "optional", "type": "trigger_workflow", "inputs": {"workflow": "missing"},
         "continue_on_error": True},
        {"name": "guarded", "type": "try", "children": {
            "try": [{"name": "inner", "type": "trigger_workflow",
                     "inputs": {"workflow": "also-missing"}}],
            "catch": [{"name": "handler", "type": "log",
                       "inputs": {"message": "caught {{ error.type }}"}}],
        }},
        {"name": "after", "type": "log",
         "inputs": {"message": "optional error: {{ steps.optional.error.type }}"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "completed", run.error
    messages = list(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert "caught unknown_workflow" in messages
    assert "optional error: unknown_workflow" in messages


def test_an_expression_error_is_a_failed_step_that_continue_on_error_covers(workers):
    workflow, _ = publish_workflow("bad-expression", [
        {"name": "greet", "type": "log", "continue_on_error": True,
         "inputs": {"message": "hello {{ trigger.body.missing }}"}},
        {"name": "after", "type": "set_variable",
         "inputs": {"name": "seen", "value": "{{ steps.greet.error.type }}"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "completed", run.error
    failed = StepEvent.objects.get(run=run, step_key="greet", status="failed")
    assert failed.error["type"] == "expression"
    assert "block 'greet', field message" in failed.error["message"]
    assert StepEvent.objects.get(run=run, step_key="after", status="completed").output == {
        "name": "seen", "value": "expression"}


def test_an_expression_error_without_continue_on_error_fails_the_run_on_its_step(workers):
    workflow, _ = publish_workflow("bad-expression-stops", [
        {"name": "greet", "type": "log", "inputs": {"message": "{{ trigger.body.nope }}"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "failed"
    assert statuses(run, "greet") == ["not_started", "running", "failed"]
    assert "field message" in run.error["message"]
