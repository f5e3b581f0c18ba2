"""`parallel` runs its branches at the same time; branch failures follow continue_on_error."""

from __future__ import annotations

import pytest

from runner import services
from runner.models import LogLine
from tests.execution import wait_for_run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def branch(name, seconds, **extra):
    return [
        {"name": f"{name}_wait", "type": "wait", "inputs": {"seconds": seconds}},
        {"name": f"{name}_log", "type": "log", "inputs": {"message": f"{name} done"}, **extra},
    ]


def start(workflow):
    return services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})


def test_parallel_is_faster_than_its_branches_in_sequence(workers):
    workflow, _ = publish_workflow("fan-out", [
        {"name": "both", "type": "parallel", "children": {
            "a": branch("a", 1.5), "b": branch("b", 1.5), "c": branch("c", 1.5),
        }},
    ])
    workers.start(2)
    run = wait_for_run(start(workflow).id, timeout=30)
    assert run.status == "completed", run.error
    elapsed = (run.finished_at - run.started_at).total_seconds()
    assert elapsed < 4.5  # the three branches in sequence take at least 4.5 s
    messages = set(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert {"a done", "b done", "c done"} <= messages


def test_a_failing_required_branch_fails_the_run(workers):
    workflow, _ = publish_workflow("fan-out-fails", [
        {"name": "both", "type": "parallel", "children": {
            "ok": branch("ok", 0.2),
            "bad": [{"name": "bad_call", "type": "trigger_workflow",
                     "inputs": {"workflow": "nope"}}],
        }},
        {"name": "after", "type": "log", "inputs": {"message": "after"}},
    ])
    workers.start(2)
    run = wait_for_run(start(workflow).id, timeout=30)
    assert run.status == "failed"
    assert not LogLine.objects.filter(run=run, message="after").exists()


def test_an_optional_branch_failure_does_not_fail_the_run(workers):
    workflow, _ = publish_workflow("fan-out-optional", [
        {"name": "both", "type": "parallel", "children": {
            "ok": branch("ok", 0.2),
            "optional": [{"name": "maybe_call", "type": "trigger_workflow",
                          "inputs": {"workflow": "nope"}, "continue_on_error": True}],
        }},
        {"name": "after", "type": "log", "inputs": {"message": "after"}},
    ])
    workers.start(2)
    run = wait_for_run(start(workflow).id, timeout=30)
    assert run.status == "completed", run.error
    assert LogLine.objects.filter(run=run, message="after").exists()
