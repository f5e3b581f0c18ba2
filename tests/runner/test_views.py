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
    for text in ("ask", "waiting", "&quot;order&quot;: 7", "Approve", "Reject", "Cancel",
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


def test_list_filters_by_workflow_environment_and_date_range(workflow, member, environments,
                                                             ops_group):
    other, _ = publish_workflow("other", [{"name": "a", "type": "log", "inputs": {}}])
    other.perimeters.add(ops_group)
    in_dev = make_run(workflow, environment=environments["dev"])
    in_prod = make_run(workflow, environment=environments["prod"])
    elsewhere = make_run(other)
    Run.objects.filter(id=in_prod.id).update(created_at=timezone.now() - timedelta(days=10))
    client = client_for(member)

    def listed(query):
        page = client.get(f"/runs/?{query}").content.decode()
        return {run.id for run in (in_dev, in_prod, elsewhere) if str(run.id) in page}

    assert listed("workflow=paged") == {in_dev.id, in_prod.id}
    assert listed("environment=prod") == {in_prod.id}
    day = (timezone.localdate() - timedelta(days=10)).isoformat()
    assert listed(f"from={day}&to={day}") == {in_prod.id}
    assert listed(f"from={timezone.localdate().isoformat()}") == {in_dev.id, elsewhere.id}
    assert "is not a date" in client.get("/runs/?from=yesterday").content.decode()


def test_list_is_paginated_and_htmx_gets_only_the_table(workflow, member):
    Run.objects.bulk_create(Run(workflow=workflow, version=workflow.versions.get(),
                                trigger_type="manual") for _ in range(55))
    client = client_for(member)
    first = client.get("/runs/?workflow=paged").content.decode()
    assert first.count('<tr data-run="') == 50 and "Page 1 of 2" in first
    assert 'href="?workflow=paged&amp;page=2"' in first
    second = client.get("/runs/?workflow=paged&page=2").content.decode()
    assert second.count('<tr data-run="') == 5
    fragment = client.get("/runs/?workflow=paged", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="runs-part"') and "<html" not in body
    assert "HX-Request" in fragment["Vary"]


def test_detail_shows_the_step_tree_timings_errors_and_result(workflow, member):
    run = make_run(workflow, status="failed", finished_at=timezone.now(),
                   result={"total": 3}, error={"type": "action_failed", "message": "boom"})
    events = [("loop", "for_each", "running", None), ("loop.0/fetch", "http_request", "running",
                                                     None),
              ("loop.0/fetch", "http_request", "failed", {"type": "http", "message": "503 ***",
                                                          "retryable": True}),
              ("loop", "for_each", "failed", None)]
    for key, kind, status, error in events:
        StepEvent.objects.create(run=run, step_key=key, action_name=key.rsplit("/", 1)[-1],
                                 action_type=kind, status=status, error=error,
                                 inputs={"url": "https://api.example/***"})
    folded = client_for(member).get(f"/runs/{run.id}/").content.decode()
    assert 'data-step="loop.0/fetch"' not in folded  # iterations fold under their loop
    assert "1 iteration · 1 failed" in folded
    page = client_for(member).get(f"/runs/{run.id}/?loop=loop&page=1").content.decode()
    assert page.index('data-step="loop"') < page.index('data-step="loop.0/fetch"')
    assert "calc(1 * 1.2em" in page  # the child is indented under its parent
    for text in ("503 ***", "&quot;total&quot;: 3", "boom", "Retry from the failed step",
                 "(loop.0/fetch)", "Retry on the latest version", "https://api.example/***"):
        assert text in page
    fragment = client_for(member).get(f"/runs/{run.id}/", HTTP_HX_REQUEST="true").content
    assert fragment.decode().lstrip().startswith('<div id="run-state"')
    assert b"run-log" not in fragment


def test_outsider_is_refused_every_action_with_403(workflow, outsider):
    run = make_run(workflow, status="waiting")
    client = client_for(outsider)
    for action in ("cancel", "retry", "rerun", "decide"):
        assert client.post(f"/runs/{run.id}/{action}/", {"step": "ask"}).status_code == 403
    assert client.get(f"/runs/{run.id}/cancel/").status_code == 405
    assert not Run.objects.get(id=run.id).cancel_requested and Run.objects.count() == 1


def test_viewer_without_run_right_sees_no_action_buttons(workflow, django_user_model):
    from access.models import SecurityGroup

    viewer = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    viewers.members.add(viewer)
    workflow.perimeters.add(viewers)
    run = make_run(workflow, status="failed", finished_at=timezone.now())
    page = client_for(viewer).get(f"/runs/{run.id}/").content.decode()
    assert "run-log" in page
    for button in ("Retry", "Re-run", "Cancel", "Approve"):
        assert f">{button}" not in page


def test_rejecting_an_approval_with_a_comment(workflow, member):
    run = make_run(workflow, status="waiting")
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="waiting", inputs={"group": "ops"}, output={"state": {}})
    response = client_for(member).post(f"/runs/{run.id}/decide/", {
        "step": "ask", "decision": "reject", "comment": "not today"})
    assert response.status_code == 302
    latest = StepEvent.objects.filter(run=run, step_key="ask").latest("id")
    assert latest.output["state"]["decision"] == {"decision": "reject", "by": "member",
                                                  "comment": "not today"}
    page = client_for(member).get(f"/runs/{run.id}/").content.decode()
    assert 'name="decision" value="approve"' not in page  # decided: the form is gone


def test_cancelling_a_finished_run_says_so(workflow, member):
    run = make_run(workflow, status="completed", finished_at=timezone.now())
    response = client_for(member).post(f"/runs/{run.id}/cancel/", follow=True)
    assert "already finished" in response.content.decode()
    assert not Run.objects.get(id=run.id).cancel_requested
