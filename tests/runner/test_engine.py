"""The interpreter end to end, on real worker processes over a real Redis."""

from __future__ import annotations

import pytest

from runner import services
from runner.models import LogLine, StepEvent
from tests.execution import wait_for_run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def start(workflow, payload=None, **kwargs):
    return services.run_start(
        workflow=workflow, trigger_type="manual", trigger_input={"body": payload or {}}, **kwargs
    )


def test_nested_if_and_for_each_run_to_completion(workers):
    workflow, _ = publish_workflow("nested", [
        {"name": "total", "type": "set_variable", "inputs": {"name": "total", "value": 0}},
        {"name": "big", "type": "if", "inputs": {"condition": "{{ trigger.body.n > 2 }}"},
         "children": {
             "then": [{"name": "loop", "type": "for_each",
                       "inputs": {"items": "{{ range(trigger.body.n) | list }}"},
                       "children": {"body": [
                           {"name": "add", "type": "set_variable",
                            "inputs": {"name": "total", "value": "{{ vars.total + item }}"}},
                       ]}}],
             "else": [{"name": "small", "type": "log", "inputs": {"message": "small"}}],
         }},
        {"name": "say", "type": "log", "inputs": {"message": "total={{ vars.total }}"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow, {"n": 5}).id)
    assert run.status == "completed", run.error
    assert run.result["vars"]["total"] == 10
    assert list(LogLine.objects.filter(run=run).values_list("message", flat=True)) == ["total=10"]
    completed = StepEvent.objects.filter(run=run, status="completed")
    keys = set(completed.values_list("step_key", flat=True))
    assert {"total", "big", "loop", "loop.0/add", "loop.4/add", "say"} <= keys
    assert "small" not in keys


def test_failing_step_fails_the_run_with_a_structured_error(workers):
    workflow, _ = publish_workflow("fails", [
        {"name": "boom", "type": "fail",
         "inputs": {"message": "no stock for {{ trigger.body.sku }}"}},
        {"name": "never", "type": "log", "inputs": {"message": "unreachable"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow, {"sku": "A-1"}).id)
    assert run.status == "failed"
    assert run.error["message"] == "no stock for A-1"
    never = StepEvent.objects.filter(run=run, step_key="never")
    assert list(never.values_list("status", flat=True)) == ["not_started"]  # and it never ran


def test_expression_error_names_action_and_field(workers):
    workflow, _ = publish_workflow("badexpr", [
        {"name": "greet", "type": "log",
         "inputs": {"message": "{{ trigger.body.missing.deeper }}"}},
    ])
    workers.start(1)
    run = wait_for_run(start(workflow).id)
    assert run.status == "failed"
    assert "greet" in run.error["message"] and "message" in run.error["message"]
