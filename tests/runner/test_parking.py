"""Waits, approvals, locks and concurrency limits park runs without holding a worker."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from runner import services
from runner.models import LogLine, Run, StepEvent
from tests.execution import wait_for_run, wait_until
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def start(workflow, payload=None):
    return services.run_start(
        workflow=workflow, trigger_type="manual", trigger_input={"body": payload or {}}
    )


def log_times(run, message):
    return list(
        LogLine.objects.filter(run=run, message=message).values_list("created_at", flat=True)
    )


def test_a_waiting_run_does_not_block_the_only_worker(workers):
    sleeper, _ = publish_workflow("sleeper", [
        {"name": "pause", "type": "wait", "inputs": {"seconds": 3}},
        {"name": "done", "type": "log", "inputs": {"message": "slept"}},
    ])
    quick, _ = publish_workflow("quick", [
        {"name": "hello", "type": "log", "inputs": {"message": "quick"}},
    ])
    workers.start(1)
    first = start(sleeper)
    wait_for_run(first.id, statuses=("waiting",), timeout=15)
    second = wait_for_run(start(quick).id, timeout=15)
    assert second.status == "completed"
    assert Run.objects.get(id=first.id).status == "waiting"
    first = wait_for_run(first.id, timeout=20)
    assert first.status == "completed"
    assert first.finished_at > second.finished_at
    waited = first.finished_at - first.started_at
    assert waited.total_seconds() >= 3


def test_a_wait_survives_a_redis_flush(workers, redis_conn):
    sleeper, _ = publish_workflow("flushed", [
        {"name": "pause", "type": "wait", "inputs": {"seconds": 2}},
        {"name": "done", "type": "log", "inputs": {"message": "after flush"}},
    ])
    workers.start(1)
    run = start(sleeper)
    wait_for_run(run.id, statuses=("waiting",), timeout=15)
    redis_conn.flushdb()  # the scheduled wake-up job is gone; the database still knows
    run = wait_for_run(run.id, timeout=30)
    assert run.status == "completed"
    assert log_times(run, "after flush")


def approval_workflow(name, **inputs):
    return publish_workflow(name, [
        {"name": "ask", "type": "approval", "inputs": {"group": "ops", **inputs}},
        {"name": "ship", "type": "log", "inputs": {"message": "shipped"}},
    ])[0]


def test_approval_approved_once_by_a_member_only(workers, member, outsider):
    workflow = approval_workflow("approve-me", message="ship it?")
    workers.start(1)
    run = start(workflow)
    wait_for_run(run.id, statuses=("waiting",), timeout=15)
    with pytest.raises(PermissionDenied):
        services.run_decide(run=run, step_key="ask", user=outsider, approve=True)
    assert services.run_decide(run=run, step_key="ask", user=member, approve=True, comment="ok")
    assert not services.run_decide(run=run, step_key="ask", user=member, approve=True)
    run = wait_for_run(run.id, timeout=15)
    assert run.status == "completed"
    output = StepEvent.objects.get(run=run, step_key="ask", status="completed").output
    assert output == {"decision": "approve", "by": "member", "comment": "ok"}
    assert log_times(run, "shipped")


def test_approval_rejected_fails_the_run(workers, member):
    workflow = approval_workflow("reject-me")
    workers.start(1)
    run = start(workflow)
    wait_for_run(run.id, statuses=("waiting",), timeout=15)
    services.run_decide(run=run, step_key="ask", user=member, approve=False, comment="too late")
    run = wait_for_run(run.id, timeout=15)
    assert run.status == "failed"
    assert run.error["type"] == "rejected" and "too late" in run.error["message"]
    assert not log_times(run, "shipped")


def test_approval_timeout_takes_the_chosen_outcome(workers, ops_group):
    workflow = approval_workflow("timeout-me", timeout_seconds=1, on_timeout="approve")
    workers.start(1)
    run = wait_for_run(start(workflow).id, timeout=20)
    assert run.status == "completed"
    output = StepEvent.objects.get(run=run, step_key="ask", status="completed").output
    assert output["decision"] == "approve" and output["comment"] == "timed out"


def intervals(runs, start_message, end_message):
    spans = []
    for run in runs:
        (began,) = log_times(run, start_message)
        (ended,) = log_times(run, end_message)
        spans.append((began, ended, run))
    return sorted(spans, key=lambda span: span[0])


def assert_no_overlap(spans):
    for (_, first_end, _), (second_start, _, _) in zip(spans, spans[1:], strict=False):
        assert first_end <= second_start


def test_runs_in_the_same_lock_never_overlap(workers):
    workflow, _ = publish_workflow("locked", [
        {"name": "guard", "type": "lock", "inputs": {"name": "customer-{{ trigger.body.id }}"},
         "children": {"body": [
             {"name": "enter", "type": "log", "inputs": {"message": "enter"}},
             {"name": "hold", "type": "wait", "inputs": {"seconds": 0.5}},
             {"name": "leave", "type": "log", "inputs": {"message": "leave"}},
         ]}},
    ])
    workers.start(2)
    runs = [start(workflow, {"id": 7}) for _ in range(3)]
    runs = [wait_for_run(run.id, timeout=40) for run in runs]
    assert [run.status for run in runs] == ["completed"] * 3
    assert_no_overlap(intervals(runs, "enter", "leave"))


def test_concurrency_limit_of_one_runs_queued_runs_in_order(workers):
    workflow, _ = publish_workflow("one-at-a-time", [
        {"name": "enter", "type": "log", "inputs": {"message": "enter"}},
        {"name": "hold", "type": "wait", "inputs": {"seconds": 0.5}},
        {"name": "leave", "type": "log", "inputs": {"message": "leave"}},
    ], concurrency_limit=1)
    runs = []
    for _ in range(3):
        runs.append(start(workflow))
        # The runs take their turns by creation time: each is created strictly after the last.
        wait_until(lambda: timezone.now() > runs[-1].created_at, timeout=1)
    workers.start(2)
    runs = [wait_for_run(run.id, timeout=40) for run in runs]
    assert [run.status for run in runs] == ["completed"] * 3
    spans = intervals(runs, "enter", "leave")
    assert_no_overlap(spans)
    assert [span[2].id for span in spans] == [run.id for run in runs]
