"""A user without the right can neither view, edit, run, retry, approve nor promote — through
the pages or the API. One test per verb; each asserts that nothing changed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from access.models import SecurityGroup
from environments.models import Deployment, PromotionRecord
from runner.models import Run, StepEvent
from workflows.format import workflow_import
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(django_user_model, environments):
    """In a group that may only view the workflow."""
    user = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    group = SecurityGroup.objects.create(name="viewers", can_view=True)
    group.members.add(user)
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "guarded", "actions": [
            {"name": "ask", "type": "approval", "inputs": {"group": "viewers"}}]}, publish=True)
    version.workflow.perimeters.add(group)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return user


@pytest.fixture
def failed_run(viewer):
    workflow = Workflow.objects.get(name="guarded")
    return Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                              trigger_type="manual", status="failed", finished_at=timezone.now())


@pytest.fixture
def waiting_run(viewer):
    workflow = Workflow.objects.get(name="guarded")
    run = Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                             trigger_type="manual", status="waiting")
    StepEvent.objects.create(run=run, step_key="ask", action_name="ask", action_type="approval",
                             status="waiting", inputs={"group": "viewers"}, output={"state": {}})
    return run


def client_for(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def test_view(outsider, failed_run):
    client = client_for(outsider)
    assert client.get("/workflows/guarded/").status_code == 404
    assert client.get(f"/runs/{failed_run.id}/").status_code == 404
    assert client.get(f"/api/runs/{failed_run.id}").status_code == 404
    assert client.get("/api/runs").json() == []


def test_edit(viewer):
    client = client_for(viewer)
    # Definitions change only through import (administrators) and the admin site (staff).
    assert client.get("/admin/workflows/workflow/").status_code == 302
    assert client.post("/api/workflows/guarded/runs", {}, content_type="application/json"
                       ).status_code == 403
    assert Workflow.objects.get(name="guarded").versions.count() == 1


def test_run(viewer):
    client = client_for(viewer)
    assert client.post("/workflows/guarded/run/", {"environment": "dev"}).status_code == 403
    assert client.post("/api/workflows/guarded/runs", {"environment": "dev"},
                       content_type="application/json").status_code == 403
    assert not Run.objects.exists()


def test_retry(viewer, failed_run):
    client = client_for(viewer)
    assert client.post(f"/runs/{failed_run.id}/retry/").status_code == 403
    assert client.post(f"/api/runs/{failed_run.id}/retry", {},
                       content_type="application/json").status_code == 403
    assert client.post(f"/api/runs/{failed_run.id}/rerun").status_code == 403
    assert Run.objects.count() == 1


def test_approve(viewer, waiting_run):
    # A member of the approvers' group still needs the approve right on the workflow.
    client = client_for(viewer)
    assert client.post(f"/runs/{waiting_run.id}/decide/",
                       {"step": "ask", "decision": "approve"}).status_code == 403
    assert client.post(f"/api/runs/{waiting_run.id}/approve", {"step": "ask"},
                       content_type="application/json").status_code == 403
    assert StepEvent.objects.filter(run=waiting_run).count() == 1


def test_promote(viewer):
    client = client_for(viewer)
    client.post("/environments/promote/guarded/", {"source": "dev", "target": "staging",
                                                   "action": "promote"})
    response = client.post("/api/workflows/guarded/promote", {"source": "dev",
                                                              "target": "staging"},
                           content_type="application/json")
    assert response.status_code == 409
    assert any("may not deploy" in f["message"] for f in response.json()["error"]["fields"])
    assert not PromotionRecord.objects.exists()
    assert not Deployment.objects.filter(environment__name="staging").exists()
