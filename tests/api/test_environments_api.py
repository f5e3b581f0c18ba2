"""Environments in the API: secrets write-only, admin-only writes, promotion and rollback."""

from __future__ import annotations

import pytest
from django.test import Client

from access.tokens import token_create
from environments.models import Connection, Deployment, PromotionRecord, Variable
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
    error = refused.json()["error"]
    assert error["code"] == "promotion_refused"
    assert any(f["path"] == "checks.chain" and "staging" in f["message"] for f in error["fields"])
    assert any(c["check"] == "chain" and not c["ok"] for c in refused.json()["plan"]["checks"])
    done = client.post(url, {"source": "dev", "target": "staging"},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["version"] == 1
    back = client.post("/api/workflows/api-promoted/rollback", {"environment": "staging"},
                       content_type="application/json")
    assert back.status_code == 409  # staging has no earlier version
    assert back.json()["error"]["code"] == "promotion_refused"


def test_promotion_history_is_readable_newest_first(deployed, member, outsider):
    client = session(member)
    client.post("/api/workflows/api-promoted/promote", {"source": "dev", "target": "staging"},
                content_type="application/json")
    history = client.get("/api/workflows/api-promoted/promotions").json()
    assert [(h["kind"], h["source"], h["target"], h["version"]) for h in history] == [
        ("promote", "dev", "staging", 1)]
    assert history[0]["user"] == "member" and all(c["ok"] for c in history[0]["checks"])
    assert session(outsider).get("/api/workflows/api-promoted/promotions").status_code == 404


def test_outsider_cannot_promote(deployed, outsider):
    response = session(outsider).post("/api/workflows/api-promoted/promote",
                                      {"source": "dev", "target": "staging"},
                                      content_type="application/json")
    assert response.status_code == 404 and not PromotionRecord.objects.exists()


SECRET = "tok-4f9c-very-secret"  # noqa: S105 - a test value


def test_connections_are_saved_checked_and_deleted_with_secrets_write_only(
        environments, admin_user, http_peer, settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    client = session(admin_user)
    url = "/api/environments/dev/connections/crm"
    created = client.put(url, {"kind": "http", "config": {
        "base_url": http_peer.url, "auth_type": "bearer", "health_path": "/health"},
        "secrets": {"token": SECRET}}, content_type="application/json")
    assert created.status_code == 200, created.content
    assert created.json()["secrets_set"] == ["token"] and SECRET not in created.content.decode()
    kept = client.put(url, {"kind": "http", "config": {
        "base_url": http_peer.url, "auth_type": "bearer", "health_path": "/ping"}},
        content_type="application/json")  # no secrets given: the stored token stays
    assert kept.json()["config"]["health_path"] == "/ping"
    checked = client.post(f"{url}/test")
    assert checked.json() == {"ok": True, "message": f"HTTP 200 from {http_peer.url}/ping"}
    assert http_peer.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    read = client.get(url)
    assert read.json()["last_test_ok"] is True and SECRET not in read.content.decode()
    assert SECRET not in client.get("/api/environments/dev/connections").content.decode()
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404 and not Connection.objects.exists()


def test_connection_errors_point_at_the_field_and_save_nothing(environments, admin_user):
    client = session(admin_user)
    url = "/api/environments/dev/connections/crm"
    missing = client.put(url, {"kind": "http", "config": {}}, content_type="application/json")
    assert missing.status_code == 400
    assert missing.json()["error"]["fields"] == [
        {"path": "config.base_url", "message": "An HTTP connection needs a base URL."}]
    bad_url = client.put(url, {"kind": "http", "config": {"base_url": "not a url"}},
                         content_type="application/json")
    assert bad_url.json()["error"]["fields"][0]["path"] == "config.base_url"
    stray = client.put(url, {"kind": "smtp", "config": {"host": "mx", "base_url": "x"},
                             "secrets": {"token": "x"}}, content_type="application/json")
    assert {f["path"] for f in stray.json()["error"]["fields"]} == {"config.base_url",
                                                                    "secrets.token"}
    bad_port = client.put(url, {"kind": "smtp", "config": {"host": "mx", "port": 70000}},
                          content_type="application/json")
    assert bad_port.json()["error"]["fields"][0]["path"] == "config.port"
    bad_name = client.put("/api/environments/dev/connections/Bad_Name", {
        "kind": "smtp", "config": {"host": "mx"}}, content_type="application/json")
    assert bad_name.json()["error"]["fields"][0]["path"] == "name"
    unknown_kind = client.put(url, {"kind": "ftp"}, content_type="application/json")
    assert unknown_kind.status_code == 422
    assert client.put("/api/environments/moon/connections/crm", {
        "kind": "smtp", "config": {"host": "mx"}}, content_type="application/json"
    ).status_code == 404
    assert not Connection.objects.exists()


def test_connection_writes_need_an_administrator(environments, member, ops_group):
    body = {"kind": "smtp", "config": {"host": "mx"}}
    url = "/api/environments/dev/connections/mail"
    assert session(member).put(url, body, content_type="application/json").status_code == 403
    token = token_create(group=ops_group, name="t")[1]
    as_token = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert as_token.put(url, body, content_type="application/json").status_code == 403
    assert not Connection.objects.exists()
    Connection.objects.create(environment=environments["dev"], name="mail", kind="smtp",
                              config={"host": "mx"})
    assert session(member).delete(url).status_code == 403
    assert session(member).post(f"{url}/test").status_code == 403
    assert session(member).get(url).json()["config"] == {"host": "mx"}  # reading is allowed


def test_a_connection_a_deployed_version_needs_cannot_be_deleted(crm_in_use, admin_user):
    refused = session(admin_user).delete("/api/environments/dev/connections/crm")
    assert refused.status_code == 409 and "uses-crm@dev" in refused.json()["error"]["message"]
    assert Connection.objects.filter(name="crm").exists()


def test_environments_are_created_by_administrators_at_the_chain_end(environments, admin_user,
                                                                     member):
    assert session(member).post("/api/environments", {"name": "qa"},
                                content_type="application/json").status_code == 403
    created = session(admin_user).post("/api/environments", {"name": "qa", "label": "QA"},
                                       content_type="application/json")
    assert created.status_code == 201 and created.json()["position"] == 4
    again = session(admin_user).post("/api/environments", {"name": "qa"},
                                     content_type="application/json")
    assert again.status_code == 400 and again.json()["error"]["fields"][0]["path"] == "name"


def test_environments_are_relabelled_and_moved_along_the_chain(environments, admin_user):
    client = session(admin_user)
    moved = client.patch("/api/environments/prod", {"label": "Live", "move": "up"},
                         content_type="application/json")
    assert moved.status_code == 200 and moved.json() == {
        "name": "prod", "label": "Live", "position": 2, "expression_time_limit_ms": None,
        "expression_size_limit": None}
    names = [e["name"] for e in client.get("/api/environments").json()]
    assert names == ["dev", "prod", "staging"]
    bad = client.patch("/api/environments/prod", {"move": "sideways"},
                       content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "payload.move"
    assert client.patch("/api/environments/moon", {"label": "x"},
                        content_type="application/json").status_code == 404


def test_an_environment_sets_its_expression_budgets_and_bad_ones_change_nothing(environments,
                                                                              admin_user):
    client = session(admin_user)
    changed = client.patch("/api/environments/prod", {"expression_time_limit_ms": 250,
                                                      "expression_size_limit": 50_000},
                           content_type="application/json")
    assert changed.status_code == 200
    assert (changed.json()["expression_time_limit_ms"],
            changed.json()["expression_size_limit"]) == (250, 50_000)
    bad = client.patch("/api/environments/prod", {"expression_time_limit_ms": 5},
                       content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"][0]["path"] == "expression_time_limit_ms"
    environments["prod"].refresh_from_db()
    assert environments["prod"].expression_time_limit_ms == 250
    back = client.patch("/api/environments/prod", {"expression_time_limit_ms": 0},
                        content_type="application/json")
    assert back.json()["expression_time_limit_ms"] is None  # the site's default again
