"""The workflows API: list, get, activate, versions, publish, diff, export and import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from environments.models import SecurityGroup
from environments.tokens import token_create
from workflows.format import workflow_import
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hello-webhook.json"


def session(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


@pytest.fixture
def hello(ops_group):
    version = workflow_import(document=EXAMPLE.read_bytes(), publish=True)
    version.workflow.perimeters.add(ops_group)
    return version.workflow


def test_list_and_get_only_what_the_principal_may_view(hello, member, outsider):
    assert [w["name"] for w in session(member).get("/api/workflows").json()] == ["hello-webhook"]
    assert session(outsider).get("/api/workflows").json() == []
    assert session(outsider).get("/api/workflows/hello-webhook").status_code == 404
    body = session(member).get("/api/workflows/hello-webhook").json()
    assert body["latest_version"] == 1 and body["tags"] == ["demo", "http"]


def test_export_import_round_trip_and_versions(hello, admin_user):
    client = session(admin_user)
    document = client.get("/api/workflows/hello-webhook/versions/1").json()
    assert document == json.loads(EXAMPLE.read_text())
    document["note"] = "second"
    created = client.post("/api/workflows/import", {"document": document},
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["number"] == 2
    published = client.post("/api/workflows/hello-webhook/versions/2/publish",
                            {"note": "ship it"}, content_type="application/json")
    assert published.json()["status"] == "published" and published.json()["note"] == "ship it"
    again = client.post("/api/workflows/hello-webhook/versions/2/publish", {},
                        content_type="application/json")
    assert again.status_code == 400
    versions = client.get("/api/workflows/hello-webhook/versions").json()
    assert [v["number"] for v in versions] == [2, 1]


def test_import_errors_list_every_problem_with_its_path(admin_user, ops_group):
    document = json.loads(EXAMPLE.read_text())
    document["actions"][2]["type"] = "teleport"
    document["actions"][0]["inputs"]["value"] = "{{ broken( }}"
    response = session(admin_user).post("/api/workflows/import", {"document": document},
                                        content_type="application/json")
    assert response.status_code == 400
    paths = {f["path"] for f in response.json()["error"]["fields"]}
    assert paths == {"actions[2].type", "actions[0].inputs.value"}
    assert not Workflow.objects.exists()


def test_diff_shows_changes_and_moves(hello, admin_user):
    document = json.loads(EXAMPLE.read_text())
    document["actions"] = [document["actions"][1], document["actions"][0],
                           document["actions"][2]]
    workflow_import(document=document)
    diff = session(admin_user).get("/api/workflows/hello-webhook/diff?a=1&b=2").json()
    assert set(diff["moved"]) == {"greeting", "note"}
    assert diff["added"] == [] and diff["removed"] == []
    assert session(admin_user).get("/api/workflows/hello-webhook/diff?a=1&b=9"
                                   ).status_code == 404


def test_activation_needs_the_edit_right(hello, member, ops_group):
    ops_group.can_edit = False
    ops_group.save()
    response = session(member).post("/api/workflows/hello-webhook/active", {"active": False},
                                    content_type="application/json")
    assert response.status_code == 403 and Workflow.objects.get().active
    ops_group.can_edit = True
    ops_group.save()
    response = session(member).post("/api/workflows/hello-webhook/active", {"active": False},
                                    content_type="application/json")
    assert response.status_code == 200 and response.json()["active"] is False


def test_only_editors_import(hello, member, ops_group):
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    token = token_create(group=viewers, name="t")[1]
    document = json.loads(EXAMPLE.read_text())
    document["name"] = "brand-new"
    response = Client(HTTP_HOST="127.0.0.1").post(
        "/api/workflows/import", {"document": document}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    response = session(member).post("/api/workflows/import", {"document": document},
                                    content_type="application/json")
    assert response.status_code == 403
    assert not WorkflowVersion.objects.filter(workflow__name="brand-new").exists()
