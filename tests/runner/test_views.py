"""Run pages: list filters, the detail page, and every action allowed or refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from runner.models import Run, StepEvent
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(ops_group):
    workflow, _ = publish_workflow("paged", [
        {"name": "ask", "type": "approval", "inputs": {"group": "ops", "message": "ok?"}}])
    workflow.perimeters.add(ops_group)
    return workflow


def make_run(workflow, **fields):
    return Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                              trigger_type=fields.pop("trigger_type", "manual"), **fields)


def client_for(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def test_list_filters_by_status_trigger_and_time(workflow, member):
    done = make_run(workflow, status="failed", finished_at=timezone.now(), trigger_type="http")
    old = make_run(workflow)
    Run.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=3))
    client = client_for(member)
    page = client.get("/runs/?status=failed").content.decode()
    assert str(done.id) in page and str(old.id) not in page
    assert str(done.id) not in client.get("/runs/?trigger=schedule").content.decode()
    page = client.get("/runs/?since=24h").content.decode()
    assert str(done.id) in page and str(old.id) not in page


def test_outsider_sees_no_run(workflow, outsider):
    run = make_run(workflow)
    client = client_for(outsider)
    assert str(run.id) not in client.get("/runs/").content.decode()
    assert client.get(f"/runs/{run.id}/").status_code == 404


def test_detail_shows_steps_inputs_outputs_and_approval_form(workflow, member):
    run = make_run(workflow, status="waiting", trigger_input={"body": {"order": 7}})
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="running", inputs={"group": "ops", "message": "ok?"})
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="waiting", inputs={"group": "ops", "message": "ok?"},
                             output={"state": {}})
    page = client_for(member).get(f"/runs/{run.id}/").content.decode()
    for text in ("ask", "waiting", "&#x27;order&#x27;: 7", "Approve", "Reject", "Cancel",
                 "Re-run with the same input", "run-log"):
        assert text in page


def test_member_approves_cancels_and_reruns(workflow, member):
    run = make_run(workflow, status="waiting")
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="waiting", inputs={"group": "ops"}, output={"state": {}})
    client = client_for(member)
    response = client.post(f"/runs/{run.id}/decide/", {"step": "ask", "decision": "approve",
                                                       "comment": "fine"})
    assert response.status_code == 302
    latest = StepEvent.objects.filter(run=run, step_key="ask").latest("id")
    assert latest.output["state"]["decision"] == {"decision": "approve", "by": "member",
                                                  "comment": "fine"}
    rerun = client.post(f"/runs/{run.id}/rerun/")
    assert rerun.status_code == 302 and Run.objects.count() == 2
    client.post(f"/runs/{run.id}/cancel/")
    assert Run.objects.get(id=run.id).cancel_requested


def test_retry_of_a_failed_run(workflow, member):
    run = make_run(workflow, status="failed", finished_at=timezone.now())
    response = client_for(member).post(f"/runs/{run.id}/retry/", {"version": "latest"})
    retried = Run.objects.exclude(id=run.id).get()
    assert response.url == f"/runs/{retried.id}/" and retried.retry_of_id == run.id


def test_actions_are_refused_without_the_right(workflow, member, ops_group):
    run = make_run(workflow, status="failed", finished_at=timezone.now())
    ops_group.can_run = ops_group.can_approve = False
    ops_group.save()
    client = client_for(member)
    for action in ("cancel", "retry", "rerun", "decide"):
        assert client.post(f"/runs/{run.id}/{action}/", {"step": "ask"}).status_code == 403
    assert Run.objects.count() == 1
    page = client.get(f"/runs/{run.id}/").content.decode()
    assert "Retry from the failed step" not in page


def test_a_non_member_of_the_approvers_group_cannot_decide(workflow, admin_user, django_user_model,
                                                           ops_group):
    run = make_run(workflow, status="waiting")
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="waiting", inputs={"group": "ops"}, output={"state": {}})
    approver = django_user_model.objects.create_user("approver", password="x-pass-123456")
    other = ops_group.__class__.objects.create(name="others", can_view=True, can_approve=True)
    other.members.add(approver)
    workflow.perimeters.add(other)
    response = client_for(approver).post(f"/runs/{run.id}/decide/",
                                         {"step": "ask", "decision": "approve"})
    assert response.status_code == 403


def test_log_download_is_the_whole_log(workflow, member):
    from runner.models import LogLine

    run = make_run(workflow)
    LogLine.objects.bulk_create(LogLine(run=run, seq=i, message=f"m{i}") for i in range(1, 4))
    body = b"".join(client_for(member).get(f"/runs/{run.id}/log.txt").streaming_content)
    assert [line.split(b"\t")[-1] for line in body.splitlines()] == [b"m1", b"m2", b"m3"]
