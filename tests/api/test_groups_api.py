"""Security groups, members and tokens in the API: admin-only writes, tokens shown once,
revoked tokens refused at once, deletes refused while a deployment names the group."""

from __future__ import annotations

import pytest
from django.test import Client

from access.models import ApiToken, SecurityGroup
from access.tokens import token_create
from environments.models import Deployment
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db


def session(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def bearer(token: str) -> Client:
    return Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_create_change_and_read_a_group(environments, admin_user, member):
    client = session(admin_user)
    created = client.post("/api/security-groups", {
        "name": "deployers", "can_run": True, "deploy_environments": ["dev", "staging"]},
        content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["can_view"] and body["can_run"] and not body["is_admin"]
    assert body["deploy_environments"] == ["dev", "staging"]
    changed = client.patch("/api/security-groups/deployers",
                           {"can_approve": True, "deploy_environments": ["prod"],
                            "description": "release team"}, content_type="application/json")
    assert changed.status_code == 200
    group = SecurityGroup.objects.get(name="deployers")
    assert group.can_run and group.can_approve and group.description == "release team"
    assert [e.name for e in group.deploy_environments.all()] == ["prod"]
    listed = session(member).get("/api/security-groups").json()
    assert {g["name"] for g in listed} == {"ops", "deployers"}
    assert session(member).get("/api/security-groups/deployers").json()["can_approve"]


def test_group_writes_need_an_administrator(environments, member, ops_group):
    client = session(member)
    assert client.post("/api/security-groups", {"name": "mine"},
                       content_type="application/json").status_code == 403
    assert client.patch("/api/security-groups/ops", {"is_admin": True},
                        content_type="application/json").status_code == 403
    assert client.delete("/api/security-groups/ops").status_code == 403
    assert client.get("/api/security-groups/ops/tokens").status_code == 403
    assert client.post("/api/security-groups/ops/tokens", {"name": "x"},
                       content_type="application/json").status_code == 403
    assert client.put("/api/security-groups/ops/members/member").status_code == 403
    editor_token = token_create(group=ops_group, name="editor")[1]
    assert bearer(editor_token).post("/api/security-groups/ops/tokens", {"name": "more"},
                                     content_type="application/json").status_code == 403
    assert not SecurityGroup.objects.filter(name="mine").exists()
    assert not SecurityGroup.objects.get(name="ops").is_admin
    assert ApiToken.objects.count() == 1


def test_group_validation_errors_name_the_field(environments, admin_user, ops_group):
    client = session(admin_user)
    bad_name = client.post("/api/security-groups", {"name": "Bad Name!"},
                           content_type="application/json")
    assert bad_name.status_code == 400
    assert bad_name.json()["error"]["fields"][0]["path"] == "name"
    taken = client.post("/api/security-groups", {"name": "ops"},
                        content_type="application/json")
    assert taken.status_code == 400 and taken.json()["error"]["fields"][0]["path"] == "name"
    unknown_env = client.post("/api/security-groups",
                              {"name": "newcomers", "deploy_environments": ["moon"]},
                              content_type="application/json")
    assert unknown_env.status_code == 400
    assert unknown_env.json()["error"]["fields"] == [
        {"path": "deploy_environments", "message": "no environment named moon"}]
    wrong_type = client.post("/api/security-groups", {"name": "x", "can_run": "perhaps"},
                             content_type="application/json")
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["fields"][0]["path"] == "payload.can_run"
    assert SecurityGroup.objects.count() == 1


def test_members_are_added_and_removed(admin_user, outsider, ops_group):
    client = session(admin_user)
    added = client.put("/api/security-groups/ops/members/outsider")
    assert added.status_code == 200 and "outsider" in added.json()["members"]
    assert client.put("/api/security-groups/ops/members/nobody").status_code == 404
    assert client.delete("/api/security-groups/ops/members/outsider").status_code == 204
    assert client.delete("/api/security-groups/ops/members/outsider").status_code == 404
    assert not ops_group.members.filter(username="outsider").exists()


def test_a_token_is_shown_once_works_and_stops_when_revoked(admin_user, ops_group):
    client = session(admin_user)
    created = client.post("/api/security-groups/ops/tokens", {"name": "deploy-bot"},
                          content_type="application/json")
    assert created.status_code == 201
    secret, prefix = created.json()["token"], created.json()["prefix"]
    assert secret.startswith(f"og_{prefix}_")
    listed = client.get("/api/security-groups/ops/tokens")
    assert secret not in listed.content.decode()
    assert [t["name"] for t in listed.json()] == ["deploy-bot"]
    assert listed.json()[0]["created_by"] == admin_user.get_username()
    assert bearer(secret).get("/api/workflows").status_code == 200
    assert client.delete(f"/api/security-groups/ops/tokens/{prefix}").status_code == 204
    assert bearer(secret).get("/api/workflows").status_code == 401
    assert client.get("/api/security-groups/ops/tokens").json()[0]["revoked_at"] is not None
    assert client.delete("/api/security-groups/ops/tokens/ffffffff").status_code == 404
    empty = client.post("/api/security-groups/ops/tokens", {"name": ""},
                        content_type="application/json")
    assert empty.status_code == 422 and ApiToken.objects.count() == 1


def test_deleting_a_group_named_by_a_deployed_trigger_is_refused(environments, admin_user,
                                                                  ops_group):
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "guarded",
        "triggers": [{"name": "hook", "type": "http",
                      "access": {"mode": "group", "group": "ops"}}],
        "actions": [{"name": "a", "type": "log", "inputs": {"message": "x"}}]}, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    client = session(admin_user)
    refused = client.delete("/api/security-groups/ops")
    assert refused.status_code == 409
    assert "guarded@dev" in refused.json()["error"]["message"]
    assert SecurityGroup.objects.filter(name="ops").exists()
    SecurityGroup.objects.create(name="spare")
    token_create(group=SecurityGroup.objects.get(name="spare"), name="t")
    assert client.delete("/api/security-groups/spare").status_code == 204
    assert not ApiToken.objects.exists()
    assert client.delete("/api/security-groups/spare").status_code == 404
