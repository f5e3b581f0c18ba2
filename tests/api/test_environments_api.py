"""Environments in the API: secrets write-only, admin-only writes, promotion and rollback."""

from __future__ import annotations

import pytest
from django.test import Client

from environments.models import Deployment, PromotionRecord, Variable
from environments.tokens import token_create
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db


def session(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def test_secret_variables_are_write_only(environments, admin_user):
    client = session(admin_user)
    response = client.put("/api/environments/dev/variables/TOKEN",
                          {"value": "s3cret-value", "is_secret": True},
                          content_type="application/json")
    assert response.status_code == 200 and response.json()["value"] is None
    listed = client.get("/api/environments/dev/variables").content.decode()
    assert "TOKEN" in listed and "s3cret-value" not in listed
    assert client.delete("/api/environments/dev/variables/TOKEN").status_code == 204
    assert client.delete("/api/environments/dev/variables/TOKEN").status_code == 404


def test_variable_writes_need_an_administrator(environments, member, ops_group):
    response = session(member).put("/api/environments/dev/variables/A", {"value": "1"},
                                   content_type="application/json")
    assert response.status_code == 403 and not Variable.objects.exists()
    token = token_create(group=ops_group, name="t")[1]
    response = Client(HTTP_HOST="127.0.0.1").put(
        "/api/environments/dev/variables/A", {"value": "1"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403


def test_invalid_variable_name_is_400_with_the_field(environments, admin_user):
    response = session(admin_user).put("/api/environments/dev/variables/9bad",
                                       {"value": "1"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["path"] == "name"


@pytest.fixture
def deployed(environments, ops_group):
    ops_group.deploy_environments.set(environments.values())
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "api-promoted",
        "actions": [{"name": "a", "type": "log", "inputs": {"message": "x"}}]}, publish=True)
    version.workflow.perimeters.add(ops_group)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return version


def test_promotion_dry_run_apply_refusal_and_rollback(deployed, member):
    client = session(member)
    url = "/api/workflows/api-promoted/promote"
    dry = client.post(url, {"source": "dev", "target": "staging", "dry_run": True},
                      content_type="application/json")
    assert dry.status_code == 200 and dry.json()["ok"] and not PromotionRecord.objects.exists()
    refused = client.post(url, {"source": "dev", "target": "prod"},
                          content_type="application/json")
    assert refused.status_code == 409
    assert any("staging" in c["message"] for c in refused.json()["checks"] if not c["ok"])
    done = client.post(url, {"source": "dev", "target": "staging"},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["version"] == 1
    back = client.post("/api/workflows/api-promoted/rollback", {"environment": "staging"},
                       content_type="application/json")
    assert back.status_code == 409  # staging has no earlier version


def test_outsider_cannot_promote(deployed, outsider):
    response = session(outsider).post("/api/workflows/api-promoted/promote",
                                      {"source": "dev", "target": "staging"},
                                      content_type="application/json")
    assert response.status_code == 404 and not PromotionRecord.objects.exists()
