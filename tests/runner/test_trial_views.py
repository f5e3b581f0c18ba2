"""Test runs from the editor and the list's last runs: runner's fragments on workflow pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from runner import services as run_services
from runner.models import Run
from workflows import services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def workflow(ops_group, admin_user) -> Workflow:
    workflow, _ = services.workflow_create(name="orders", user=admin_user,
                                           perimeters=[ops_group])
    log = services.action_add(version=workflow.versions.get(), type="log")
    services.action_update(action=log, inputs={"message": "hello"})
    return workflow


@pytest.fixture
def editor(client, member):
    client.force_login(member)
    return client


def test_test_run_starts_the_draft_keeps_the_sample_and_polls(editor, workflow, environments,
                                                               redis_conn):
    start = reverse("workflow_test_run", args=["orders"])
    assert start == "/workflows/orders/edit/test/"
    bad = editor.post(start, {"sample": "{nope"}, **HTMX)
    assert bad.status_code == 400 and "Enter valid JSON" in bad.content.decode()
    assert not Run.objects.exists()
    response = editor.post(start, {"sample": '{"x": 1}'}, **HTMX)
    run = Run.objects.get()
    assert run.is_test and run.version.status == "draft" and run.trigger_input == {
        "body": {"x": 1}}
    assert run.environment == environments["dev"]
    assert "every 1s" in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.test_sample == {"x": 1}
    status = editor.get(reverse("workflow_test_status", args=["orders"]), **HTMX)
    body = status.content.decode()
    assert 'hx-swap-oob="true"' in body and "queued" in body
    page = editor.get(reverse("workflows:edit", args=["orders"])).content.decode()
    assert json.dumps({"x": 1}, indent=2).replace('"', "&quot;") in page
    assert reverse("workflow_test_status", args=["orders"]) in page


def test_without_htmx_a_test_run_lands_back_in_the_editor(editor, workflow, environments,
                                                         redis_conn):
    response = editor.post(reverse("workflow_test_run", args=["orders"]), {"sample": "{}"})
    assert response.status_code == 302 and response.url == reverse("workflows:edit",
                                                                   args=["orders"])


def test_step_results_group_loop_steps_by_block_with_outputs_and_logs(workflow):
    from runner.models import LogLine, StepEvent
    from runner.trials import step_results

    version = workflow.versions.get()
    run = Run.objects.create(workflow=workflow, version=version, trigger_type="manual",
                             is_test=True)
    for key, status, output in [("loop/0/fetch", "running", None),
                                ("loop/0/fetch", "completed", {"status": 200}),
                                ("loop/1/fetch", "running", None),
                                ("loop/1/fetch", "failed", None)]:
        StepEvent.objects.create(run=run, step_key=key, action_name="fetch",
                                 action_type="http_request", status=status, output=output,
                                 inputs={"url": "https://x.test/1"},
                                 error={"message": "boom"} if status == "failed" else None)
    LogLine.objects.create(run=run, seq=1, step_key="loop/0/fetch", message="got it")
    result = step_results(run)["fetch"]
    assert result["count"] == 2 and result["status"] == "failed"
    assert result["logs"] == ["[info] got it"] and '"boom"' in result["error_text"]
    assert "https://x.test/1" in result["inputs_text"]
    assert step_results(None) == {}


def test_last_runs_fill_the_list_for_visible_workflows_only(editor, workflow, admin_user,
                                                           environments, redis_conn):
    hidden, _ = services.workflow_create(name="hidden", user=admin_user)
    url = reverse("runner:last_runs")
    body = editor.get(url, {"w": [str(workflow.id), str(hidden.id), "junk"]}).content.decode()
    assert f'id="last-run-{workflow.id}"' in body and "never" in body
    assert str(hidden.id) not in body
    run = run_services.test_run_start(workflow=workflow, sample={}, user=None)
    body = editor.get(url, {"w": [str(workflow.id)]}).content.decode()
    assert reverse("runner:detail", args=[run.id]) in body and run.status in body


def test_test_runs_need_the_edit_right(client, django_user_model, workflow):
    from access.models import SecurityGroup

    readers = SecurityGroup.objects.create(name="readers", can_view=True)
    reader = django_user_model.objects.create_user("reader", password="reader-pass-123")
    readers.members.add(reader)
    workflow.perimeters.add(readers)
    client.force_login(reader)
    assert client.post(reverse("workflow_test_run", args=["orders"]),
                       {"sample": "{}"}).status_code == 403
    assert client.get(reverse("workflow_test_status", args=["orders"])).status_code == 403
    assert not Run.objects.exists()


def test_workflow_page_loads_its_recent_runs_from_runner(editor, workflow, environments,
                                                        redis_conn, client, outsider):
    runs_url = reverse("workflow_runs", args=["orders"])
    assert runs_url in editor.get(reverse("workflows:detail", args=["orders"])).content.decode()
    assert runs_url in editor.get(reverse("workflows:delete", args=["orders"])).content.decode()
    assert "No run yet" in editor.get(runs_url).content.decode()
    run = run_services.test_run_start(workflow=workflow, sample={}, user=None)
    body = editor.get(runs_url).content.decode()
    assert reverse("runner:detail", args=[run.id]) in body and ">test<" in body
    assert "1 run<" in editor.get(runs_url, {"count": "1"}).content.decode()
    client.force_login(outsider)
    assert client.get(runs_url).status_code == 404
