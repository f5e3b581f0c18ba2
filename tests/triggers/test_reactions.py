"""Manual and workflow input schemas, record triggers, run-event triggers, missed ticks."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.test import Client

from environments.models import Deployment
from runner import services
from runner.cron import fire_due_schedules
from runner.models import Run, StepEvent
from tests.execution import wait_for_run
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db(transaction=True)


def deploy(environment, name, actions, triggers=(), group=None):
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": name, "actions": actions,
        "triggers": list(triggers)}, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environment,
                              version=version)
    if group is not None:
        version.workflow.perimeters.add(group)
    return version.workflow


def log(name, message="x"):
    return {"name": name, "type": "log", "inputs": {"message": message}}


SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


def test_manual_input_is_checked_against_the_manual_trigger_schema(environments, ops_group,
                                                                   admin_user):
    deploy(environments["dev"], "checked", [log("one")], [
        {"name": "by_hand", "type": "manual", "settings": {"json_schema": SCHEMA}}], ops_group)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin_user)
    bad = client.post("/api/workflows/checked/runs", {"environment": "dev", "input": {"n": "x"}},
                      content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == [{"path": "input.n",
                                              "message": "'x' is not of type 'integer'"}]
    client.post("/workflows/checked/run/", {"environment": "dev", "input": "{}"})
    assert not Run.objects.exists()
    good = client.post("/api/workflows/checked/runs", {"environment": "dev", "input": {"n": 1}},
                       content_type="application/json")
    assert good.status_code == 201


def test_a_child_refuses_a_payload_outside_its_schema(environments, workers):
    deploy(environments["dev"], "child", [log("hi")], [
        {"name": "called", "type": "workflow", "settings": {"json_schema": SCHEMA}}])
    parent = deploy(environments["dev"], "parent", [
        {"name": "call", "type": "trigger_workflow",
         "inputs": {"workflow": "child", "payload": {"m": 1}}}])
    workers.start(1)
    run = wait_for_run(services.run_start(workflow=parent, environment=environments["dev"],
                                          trigger_type="manual").id)
    assert run.status == "failed" and run.error["type"] == "invalid_input"
    assert "'n' is a required property" in run.error["message"]


def test_a_child_whose_result_breaks_its_output_schema_fails_and_so_does_the_call(
        environments, workers):
    """The `workflow` trigger's output_schema checks the result handed back to the parent."""
    promised = {"type": "object", "required": ["total"],
                "properties": {"total": {"type": "integer"}}}
    deploy(environments["dev"], "child", [
        {"name": "sum", "type": "set_variable",
         "inputs": {"name": "t", "value": "{{ trigger.body.n * 2 }}"}},
        {"name": "answer", "type": "stop", "inputs": {"result": "{{ trigger.body.shape }}"}},
    ], [{"name": "called", "type": "workflow", "settings": {"output_schema": promised}}])
    parent = deploy(environments["dev"], "parent", [
        {"name": "call", "type": "trigger_workflow",
         "inputs": {"workflow": "child", "payload": "{{ trigger.body }}"}}])
    workers.start(1)

    def call(body):
        return wait_for_run(services.run_start(
            workflow=parent, environment=environments["dev"], trigger_type="manual",
            trigger_input={"body": body}).id, timeout=30)

    good = call({"n": 2, "shape": {"total": 4}})
    assert good.status == "completed", good.error
    bad = call({"n": 2, "shape": {"total": "four"}})
    assert bad.status == "failed"
    child = Run.objects.filter(workflow__name="child").order_by("-created_at").first()
    assert child.status == "failed" and child.error["type"] == "invalid_output"
    assert child.error["message"] == ("the run's result does not match the trigger's "
                                      "output_schema: total: 'four' is not of type 'integer'")


def test_record_triggers_follow_their_filter_and_never_loop(environments, workers):
    record_trigger = {"name": "on_lead", "type": "record", "settings": {
        "collection": "leads", "events": ["created"],
        "filter": "{{ record.data.status == 'new' }}"}}
    writer = deploy(environments["dev"], "writer", [
        {"name": "add", "type": "create_record", "inputs": {
            "collection": "leads", "data": {"status": "{{ trigger.body.status }}"}}},
    ], [record_trigger])
    deploy(environments["dev"], "welcome", [log("greet", "welcome {{ trigger.body.record.data }}")],
           [record_trigger])
    workers.start(1)
    for status in ("new", "old"):
        wait_for_run(services.run_start(workflow=writer, environment=environments["dev"],
                                        trigger_type="manual",
                                        trigger_input={"body": {"status": status}}).id)
    welcomed = Run.objects.filter(workflow__name="welcome")
    assert welcomed.count() == 1  # the filter let only the "new" lead through
    run = wait_for_run(welcomed.get().id)
    assert run.trigger_input["body"]["event"] == "created"
    assert Run.objects.filter(workflow=writer).count() == 2  # it did not trigger itself


def test_run_event_trigger_reacts_to_failures(environments, workers):
    failing = deploy(environments["dev"], "fragile", [
        {"name": "boom", "type": "fail", "inputs": {"message": "disk full"}}])
    deploy(environments["dev"], "on-call", [log("page", "{{ trigger.body.workflow }} failed")],
           [{"name": "watch", "type": "run", "settings": {"workflow": "fragile",
                                                          "statuses": ["failed"]}}])
    workers.start(1)
    wait_for_run(services.run_start(workflow=failing, environment=environments["dev"],
                                    trigger_type="manual").id)
    deadline = time.monotonic() + 15
    while not Run.objects.filter(workflow__name="on-call").exists():
        assert time.monotonic() < deadline, "no reaction to the failed run"
        time.sleep(0.05)
    reaction = wait_for_run(Run.objects.get(workflow__name="on-call").id)
    assert reaction.trigger_input["body"]["error"]["message"] == "disk full"
    assert StepEvent.objects.get(run=reaction, step_key="page", status="completed").output[
        "message"] == "fragile failed"


def test_missed_ticks_are_skipped_and_inactive_workflows_do_not_fire(environments, redis_conn):
    workflow = deploy(environments["dev"], "hourly", [log("tick")], [
        {"name": "clock", "type": "schedule", "settings": {"cron": "0 * * * *"}}])
    Deployment.objects.update(deployed_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert fire_due_schedules(datetime(2026, 11, 22, 10, 6, tzinfo=UTC)) == 0  # 6 min late
    assert fire_due_schedules(datetime(2026, 11, 22, 11, 2, tzinfo=UTC)) == 1
    workflow.__class__.objects.filter(id=workflow.id).update(active=False)
    assert fire_due_schedules(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == 0
