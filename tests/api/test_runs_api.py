"""The runs API: every endpoint's success, permission refusals and validation errors."""

from __future__ import annotations

import pytest
from django.test import Client

from access.models import ApiToken, SecurityGroup
from access.tokens import token_create
from runner import journal
from runner.models import LogLine, Run, StepEvent
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db


def make_token(group) -> str:
    return token_create(group=group, name="ci")[1]


@pytest.fixture
def api_client():
    return Client(HTTP_HOST="127.0.0.1")


@pytest.fixture
def workflow(ops_group):
    workflow, _ = publish_workflow("api-demo", [
        {"name": "hello", "type": "log", "inputs": {"message": "hi {{ trigger.body.who }}"}},
    ])
    workflow.perimeters.add(ops_group)
    return workflow


@pytest.fixture
def runner_token(ops_group):
    ops_group.can_run = True
    ops_group.save()
    return make_token(ops_group)


@pytest.fixture
def viewer_token(db):
    return make_token(SecurityGroup.objects.create(name="viewers", can_view=True))


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client, url, data, token):
    return client.post(url, data, content_type="application/json", **auth(token))


def test_start_run_with_a_token_creates_a_queued_run(api_client, workflow, runner_token):
    response = post(api_client, "/api/workflows/api-demo/runs", {"input": {"who": "Ada"}},
                    runner_token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["trigger_input"] == {"body": {"who": "Ada"}}
    assert Run.objects.filter(id=body["id"]).exists()


def test_missing_or_revoked_token_is_401(api_client, workflow, runner_token):
    assert api_client.get("/api/runs").status_code == 401
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    response = api_client.get("/api/runs", **auth(runner_token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_token_outside_the_perimeter_sees_404_and_cannot_start(api_client, workflow,
                                                                viewer_token):
    response = post(api_client, "/api/workflows/api-demo/runs", {}, viewer_token)
    assert response.status_code == 404
    assert api_client.get("/api/runs", **auth(viewer_token)).json() == []
    assert not Run.objects.exists()


def test_viewer_in_perimeter_may_read_but_not_start(api_client, workflow, viewer_token):
    workflow.perimeters.add(SecurityGroup.objects.get(name="viewers"))
    response = post(api_client, "/api/workflows/api-demo/runs", {}, viewer_token)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Run.objects.exists()


def test_validation_errors_name_the_field(api_client, workflow, runner_token):
    response = post(api_client, "/api/workflows/api-demo/runs", {"environment": "mars"},
                    runner_token)
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["path"] == "environment"
    response = post(api_client, "/api/workflows/api-demo/runs", {"input": "not an object"},
                    runner_token)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"].endswith("input")
    response = post(api_client, "/api/workflows/api-demo/runs", {"version": 9}, runner_token)
    assert response.status_code == 400 and "version" in response.content.decode()
    assert not Run.objects.exists()


def start(client, token):
    return post(client, "/api/workflows/api-demo/runs", {}, token).json()["id"]


def test_list_get_and_filter_runs(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    listed = api_client.get("/api/runs?workflow=api-demo&status=queued", **auth(runner_token))
    assert [r["id"] for r in listed.json()] == [run_id]
    assert api_client.get("/api/runs?status=failed", **auth(runner_token)).json() == []
    assert api_client.get("/api/runs?status=nonsense", **auth(runner_token)).status_code == 422
    detail = api_client.get(f"/api/runs/{run_id}", **auth(runner_token)).json()
    assert detail["workflow"] == "api-demo" and detail["steps"] == []


def test_logs_are_paged_by_sequence_number(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    LogLine.objects.bulk_create(
        LogLine(run_id=run_id, seq=i, message=f"line {i}") for i in range(1, 6)
    )
    page = api_client.get(f"/api/runs/{run_id}/logs?after=2&limit=2", **auth(runner_token))
    body = page.json()
    assert [line["seq"] for line in body["lines"]] == [3, 4]
    assert body["next_after"] == 4 and body["complete"] is False


def test_logs_filter_by_step_key_or_by_block(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    keys = ["fetch", "loop", "loop.0/tick", "loop.1/tick", "loop.1/tock", "stick"]
    LogLine.objects.bulk_create(
        LogLine(run_id=run_id, seq=i, step_key=key, message=key) for i, key in enumerate(keys, 1))

    def messages(query):
        response = api_client.get(f"/api/runs/{run_id}/logs?{query}", **auth(runner_token))
        return [line["message"] for line in response.json()["lines"]]

    assert messages("block=tick") == ["loop.0/tick", "loop.1/tick"]
    assert messages("step=loop.1/tick") == ["loop.1/tick"]
    assert messages("block=loop") == ["loop"]
    assert messages("block=nothing") == []


def test_cancel_a_queued_run(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    response = api_client.post(f"/api/runs/{run_id}/cancel", **auth(runner_token))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    error = Run.objects.get(id=run_id).error
    assert error["message"].startswith("cancelled by API token ")


def test_cancelling_a_finished_run_is_refused_with_409(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    api_client.post(f"/api/runs/{run_id}/cancel", **auth(runner_token))
    response = api_client.post(f"/api/runs/{run_id}/cancel", **auth(runner_token))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_finished"


def test_rerun_and_retry(api_client, workflow, runner_token):
    run_id = start(api_client, runner_token)
    response = api_client.post(f"/api/runs/{run_id}/rerun", **auth(runner_token))
    assert response.status_code == 201 and response.json()["id"] != run_id
    response = post(api_client, f"/api/runs/{run_id}/retry", {}, runner_token)
    assert response.status_code == 400  # only failed or cancelled runs can be retried
    run = Run.objects.get(id=run_id)
    journal.request_cancel(run)
    response = post(api_client, f"/api/runs/{run_id}/retry", {}, runner_token)
    assert response.status_code == 201 and response.json()["retry_of"] == run_id


def test_approvals_need_a_person(api_client, workflow, runner_token, ops_group):
    run_id = start(api_client, runner_token)
    response = post(api_client, f"/api/runs/{run_id}/approve", {"step": "ask"}, runner_token)
    assert response.status_code == 403


def test_session_user_approves_a_waiting_step(api_client, admin_user, ops_group):
    workflow, _ = publish_workflow("api-approval", [
        {"name": "ask", "type": "approval", "inputs": {"group": "ops"}},
    ])
    run = Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                             trigger_type="manual", status="waiting")
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask",
                             action_type="approval", status="waiting",
                             inputs={"group": "ops"}, output={"state": {}})
    api_client.force_login(admin_user)
    url = f"/api/runs/{run.id}/approve"
    first = api_client.post(url, {"step": "ask"}, content_type="application/json")
    assert first.status_code == 200 and first.json() == {"accepted": True}
    again = api_client.post(url, {"step": "ask"}, content_type="application/json")
    assert again.json() == {"accepted": False}
    missing = api_client.post(url, {"step": "nope"}, content_type="application/json")
    assert missing.status_code == 400


def test_unknown_run_is_404_with_the_error_format(api_client, runner_token):
    response = api_client.get("/api/runs/00000000-0000-0000-0000-000000000000",
                              **auth(runner_token))
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "fields"}
