"""The workflows API: list, get, activate, versions, publish, diff, export and import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from access.models import SecurityGroup
from access.tokens import token_create
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


def test_only_editors_import(hello, member, outsider, ops_group):
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    token = token_create(group=viewers, name="t")[1]
    document = json.loads(EXAMPLE.read_text())
    document["name"] = "brand-new"
    response = Client(HTTP_HOST="127.0.0.1").post(
        "/api/workflows/import", {"document": document}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    response = session(outsider).post("/api/workflows/import", {"document": document},
                                      content_type="application/json")
    assert response.status_code == 403
    assert not WorkflowVersion.objects.filter(workflow__name="brand-new").exists()
    response = session(member).post("/api/workflows/import", {"document": document},
                                    content_type="application/json")
    assert response.status_code == 201  # an editor's new workflow joins the editor's groups
    assert list(Workflow.objects.get(name="brand-new").perimeters.all()) == [ops_group]


def test_create_change_duplicate_and_delete(environments, member, ops_group):
    client = session(member)
    created = client.post("/api/workflows", {"name": "nightly-report", "tags": ["ops"]},
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["latest_version"] == 1
    workflow = Workflow.objects.get(name="nightly-report")
    assert list(workflow.perimeters.all()) == [ops_group]
    changed = client.patch("/api/workflows/nightly-report", {
        "name": "daily-report", "description": "mails the numbers", "concurrency_limit": 2},
        content_type="application/json")
    assert changed.status_code == 200
    assert changed.json()["name"] == "daily-report" and changed.json()["tags"] == ["ops"]
    workflow.refresh_from_db()
    assert workflow.concurrency_limit == 2 and workflow.description == "mails the numbers"
    unlimited = client.patch("/api/workflows/daily-report", {"unlimited_concurrency": True},
                             content_type="application/json")
    assert unlimited.json()["concurrency_limit"] is None
    copy = client.post("/api/workflows/daily-report/duplicate", {"name": "daily-report-2"},
                       content_type="application/json")
    assert copy.status_code == 201 and copy.json()["tags"] == ["ops"]
    assert client.delete("/api/workflows/daily-report-2").status_code == 204
    assert client.get("/api/workflows/daily-report-2").status_code == 404


def test_create_and_change_refuse_bad_fields_and_write_nothing(hello, member):
    client = session(member)
    bad = client.post("/api/workflows", {"name": "Not A Slug!"},
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"][0]["path"] == "name"
    taken = client.post("/api/workflows", {"name": "hello-webhook"},
                        content_type="application/json")
    assert taken.status_code == 400 and "is not available" in taken.json()["error"]["fields"][0][
        "message"]
    empty_tag = client.post("/api/workflows", {"name": "tagged", "tags": ["ok", ""]},
                            content_type="application/json")
    assert empty_tag.status_code == 400
    assert empty_tag.json()["error"]["fields"][0]["path"] == "tags"
    assert Workflow.objects.count() == 1
    rename = client.patch("/api/workflows/hello-webhook", {"name": "bad name",
                                                           "description": "changed"},
                          content_type="application/json")
    assert rename.status_code == 400 and rename.json()["error"]["fields"][0]["path"] == "name"
    ghost = client.patch("/api/workflows/hello-webhook", {"perimeters": ["ghosts"]},
                         content_type="application/json")
    assert ghost.json()["error"]["fields"] == [
        {"path": "perimeters", "message": "no security group named ghosts"}]
    zero = client.patch("/api/workflows/hello-webhook", {"concurrency_limit": 0},
                        content_type="application/json")
    assert zero.status_code == 422
    workflow = Workflow.objects.get()
    assert workflow.name == "hello-webhook" and workflow.description != "changed"


def test_create_and_delete_need_the_edit_right(hello, member, outsider, ops_group):
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    viewer_token = token_create(group=viewers, name="t")[1]
    as_viewer = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    assert as_viewer.post("/api/workflows", {"name": "x"},
                          content_type="application/json").status_code == 403
    assert session(outsider).post("/api/workflows", {"name": "x"},
                                  content_type="application/json").status_code == 403
    assert session(outsider).delete("/api/workflows/hello-webhook").status_code == 404
    ops_group.can_edit = False
    ops_group.save()
    assert session(member).delete("/api/workflows/hello-webhook").status_code == 403
    assert session(member).patch("/api/workflows/hello-webhook", {"description": "x"},
                                 content_type="application/json").status_code == 403
    assert Workflow.objects.count() == 1


def test_a_token_creates_workflows_in_its_own_perimeter(ops_group):
    token = token_create(group=ops_group, name="ci")[1]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.post("/api/workflows", {"name": "from-ci"},
                       content_type="application/json").status_code == 201
    assert list(Workflow.objects.get(name="from-ci").perimeters.all()) == [ops_group]
    assert client.get("/api/workflows/from-ci").status_code == 200


def test_a_deployed_workflow_cannot_be_deleted(hello, admin_user, environments):
    from environments.models import Deployment

    Deployment.objects.create(workflow=hello, environment=environments["dev"],
                              version=hello.versions.get())
    refused = session(admin_user).delete("/api/workflows/hello-webhook")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert Workflow.objects.filter(name="hello-webhook").exists()


def test_publish_refuses_an_invalid_draft_and_restore_makes_a_new_draft(hello, admin_user):
    client = session(admin_user)
    document = json.loads(EXAMPLE.read_text())
    document["actions"] = [{"name": "only", "type": "log", "inputs": {"message": "v2"}}]
    workflow_import(document=document)
    draft = hello.versions.get(number=2)
    draft.actions.update(inputs={})  # the log action's message is required
    refused = client.post("/api/workflows/hello-webhook/versions/2/publish", {},
                          content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"][0]["path"].startswith("actions[0]")
    assert hello.versions.get(number=2).status == WorkflowVersion.Status.DRAFT
    restored = client.post("/api/workflows/hello-webhook/versions/1/restore")
    assert restored.status_code == 201 and restored.json()["number"] == 2
    document = client.get("/api/workflows/hello-webhook/versions/2").json()
    assert [a["name"] for a in document["actions"]] == [
        a["name"] for a in json.loads(EXAMPLE.read_text())["actions"]]
    published = client.post("/api/workflows/hello-webhook/versions/2/publish", {"note": "back"},
                            content_type="application/json")
    assert published.status_code == 200
    assert client.post("/api/workflows/hello-webhook/versions/7/restore").status_code == 404


def test_the_list_filters_by_environment(hello, admin_user, environments):
    from environments.models import Deployment

    workflow_import(document={"format": "owlgrid.workflow/v1", "name": "undeployed",
                              "actions": [{"name": "a", "type": "log",
                                           "inputs": {"message": "x"}}]})
    Deployment.objects.create(workflow=hello, environment=environments["dev"],
                              version=hello.versions.get())
    client = session(admin_user)
    assert [w["name"] for w in client.get("/api/workflows?environment=dev").json()] == [
        "hello-webhook"]
    assert client.get("/api/workflows?environment=prod").json() == []
    assert len(client.get("/api/workflows").json()) == 2
