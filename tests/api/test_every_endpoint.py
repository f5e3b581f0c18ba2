"""Every operation in /api/openapi.json, called by five principals: the ones allowed succeed, the
others get a 401, 403, 404 or 409 in the one error format, and nothing changes.

The table is checked against the OpenAPI document, so an endpoint added without its row here
fails this test. Allowed calls run inside a savepoint that is rolled back, so each row starts
from the same world.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from access.models import ApiToken, SecurityGroup
from access.tokens import token_create
from environments.models import Connection, Deployment, Environment, PromotionRecord, Variable
from owlgrid_site.api import api
from runner.models import Run, StepEvent
from workflows.format import workflow_import
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db
PRINCIPALS = ["anonymous", "outsider", "viewer-token", "member", "admin"]
ANYONE = {"outsider", "viewer-token", "member", "admin"}
VIEWERS = {"viewer-token", "member", "admin"}
EDITORS = {"member", "admin"}
ADMIN = {"admin"}
REFUSALS = {401, 403, 404, 409}
DOCUMENT = {"format": "owlgrid.workflow/v1", "name": "secret-sauce", "actions": [
    {"name": "ask", "type": "approval", "inputs": {"group": "ops"}}]}


@pytest.fixture
def world(environments, ops_group, admin_user, django_user_model, http_peer, settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    member = django_user_model.objects.create_user("member", password="pass-123456x")
    outsider = django_user_model.objects.create_user("outsider", password="pass-123456x")
    ops_group.members.add(member)
    ops_group.deploy_environments.set([environments["dev"]])
    v1 = workflow_import(document=DOCUMENT, publish=True)
    v2 = workflow_import(document={**DOCUMENT, "description": "v2"}, publish=True)
    workflow = v1.workflow
    workflow.perimeters.add(ops_group, viewers)
    Deployment.objects.create(workflow=workflow, environment=environments["dev"], version=v2)
    PromotionRecord.objects.create(workflow=workflow, kind="deploy", target=environments["dev"],
                                   version=v2, previous_version=v1)
    scratch = workflow_import(document={**DOCUMENT, "name": "scratch"}).workflow
    scratch.perimeters.add(ops_group, viewers)
    failed = Run.objects.create(workflow=workflow, version=v2, trigger_type="manual",
                                status="failed", finished_at=timezone.now(),
                                environment=environments["dev"])
    waiting = Run.objects.create(workflow=workflow, version=v2, trigger_type="manual",
                                 status="waiting", environment=environments["dev"])
    StepEvent.objects.create(run=waiting, step_key="ask", action_name="ask",
                             action_type="approval", status="waiting", inputs={"group": "ops"},
                             output={"state": {}})
    Variable.objects.create(environment=environments["dev"], name="REGION", value="eu")
    Connection.objects.create(environment=environments["dev"], name="crm", kind="http",
                              config={"base_url": http_peer.url})
    token, viewer_secret = token_create(group=viewers, name="viewer")
    return {"failed": failed.id, "waiting": waiting.id, "prefix": token.prefix,
            "users": {"member": member, "outsider": outsider, "admin": admin_user},
            "viewer_secret": viewer_secret}


def table(world: dict) -> list[tuple[str, str, dict | None, set[str]]]:
    """(method, path, JSON body, who may) for every operation of the API."""
    failed, waiting, prefix = world["failed"], world["waiting"], world["prefix"]
    w = "/api/workflows/secret-sauce"
    return [
        ("get", "/api/workflows", None, ANYONE),
        ("post", "/api/workflows", {"name": "fresh"}, EDITORS),
        ("post", "/api/workflows/import", {"document": {**DOCUMENT, "name": "imported"}},
         EDITORS),
        ("get", w, None, VIEWERS),
        ("patch", w, {"description": "changed"}, EDITORS),
        ("delete", "/api/workflows/scratch", None, EDITORS),
        ("post", f"{w}/duplicate", {"name": "copied"}, EDITORS),
        ("post", f"{w}/active", {"active": False}, EDITORS),
        ("get", f"{w}/versions", None, VIEWERS),
        ("get", f"{w}/versions/1", None, VIEWERS),
        ("post", "/api/workflows/scratch/versions/1/publish", {"note": "go"}, EDITORS),
        ("post", f"{w}/versions/1/restore", None, EDITORS),
        ("get", f"{w}/diff?a=1&b=2", None, VIEWERS),
        ("post", f"{w}/runs", {"environment": "dev"}, EDITORS),
        ("get", "/api/runs", None, ANYONE),
        ("get", f"/api/runs/{failed}", None, VIEWERS),
        ("get", f"/api/runs/{failed}/logs", None, VIEWERS),
        ("post", f"/api/runs/{waiting}/cancel", None, EDITORS),
        ("post", f"/api/runs/{failed}/retry", {}, EDITORS),
        ("post", f"/api/runs/{failed}/rerun", None, EDITORS),
        ("post", f"/api/runs/{waiting}/approve", {"step": "ask"}, EDITORS),
        ("post", f"/api/runs/{waiting}/reject", {"step": "ask"}, EDITORS),
        ("get", "/api/environments", None, ANYONE),
        ("post", "/api/environments", {"name": "qa"}, ADMIN),
        ("patch", "/api/environments/staging", {"label": "Pre-prod", "move": "up"}, ADMIN),
        ("get", "/api/environments/dev/variables", None, ANYONE),
        ("put", "/api/environments/dev/variables/ZONE", {"value": "1"}, ADMIN),
        ("delete", "/api/environments/dev/variables/REGION", None, ADMIN),
        ("get", "/api/environments/dev/connections", None, ANYONE),
        ("get", "/api/environments/dev/connections/crm", None, ANYONE),
        ("put", "/api/environments/dev/connections/mail", {"kind": "smtp",
                                                           "config": {"host": "mx"}}, ADMIN),
        ("delete", "/api/environments/dev/connections/crm", None, ADMIN),
        ("post", "/api/environments/dev/connections/crm/test", None, ADMIN),
        ("post", f"{w}/promote", {"source": "dev", "target": "staging"}, ADMIN),
        ("post", f"{w}/rollback", {"environment": "dev", "dry_run": True}, EDITORS),
        ("get", f"{w}/promotions", None, VIEWERS),
        ("get", "/api/security-groups", None, ANYONE),
        ("post", "/api/security-groups", {"name": "release"}, ADMIN),
        ("get", "/api/security-groups/ops", None, ANYONE),
        ("patch", "/api/security-groups/ops", {"is_admin": True}, ADMIN),
        ("delete", "/api/security-groups/viewers", None, ADMIN),
        ("put", "/api/security-groups/ops/members/outsider", None, ADMIN),
        ("delete", "/api/security-groups/ops/members/member", None, ADMIN),
        ("get", "/api/security-groups/viewers/tokens", None, ADMIN),
        ("post", "/api/security-groups/viewers/tokens", {"name": "more"}, ADMIN),
        ("delete", f"/api/security-groups/viewers/tokens/{prefix}", None, ADMIN),
    ]


def client_for(world: dict, principal: str) -> Client:
    if principal == "viewer-token":
        return Client(HTTP_HOST="127.0.0.1",
                      HTTP_AUTHORIZATION=f"Bearer {world['viewer_secret']}")
    client = Client(HTTP_HOST="127.0.0.1")
    if principal != "anonymous":
        client.force_login(world["users"][principal])
    return client


def call(client: Client, method: str, path: str, body: dict | None):
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body or {}, content_type="application/json")


def snapshot() -> tuple:
    """Everything an API write could change, in a comparable form."""
    return (
        list(Workflow.objects.values_list("name", "description", "active").order_by("name")),
        list(WorkflowVersion.objects.values_list("id", "status").order_by("id")),
        list(Run.objects.values_list("id", "status").order_by("id")),
        list(Environment.objects.values_list("name", flat=True)),
        list(Variable.objects.values_list("name", "value").order_by("name")),
        list(Connection.objects.values_list("name", flat=True).order_by("name")),
        list(SecurityGroup.objects.values_list("name", "is_admin").order_by("name")),
        list(ApiToken.objects.values_list("prefix", "revoked_at").order_by("prefix")),
        sorted(SecurityGroup.members.through.objects.values_list("securitygroup_id", "user_id")),
        list(Deployment.objects.values_list("environment_id", "version_id").order_by("id")),
    )


def test_the_table_covers_every_operation_of_the_openapi_document(world):
    documented = {(method, normalize(path))
                  for path, operations in api.get_openapi_schema()["paths"].items()
                  for method in operations}
    tabled = {(method, normalize(path.split("?")[0])) for method, path, _, _ in table(world)}
    assert tabled == documented


def normalize(path: str) -> str:
    """Path parameters named apart: /api/workflows/{name} ~ /api/workflows/secret-sauce."""
    parts = path.strip("/").split("/")
    fixed = {"api", "workflows", "import", "duplicate", "active", "versions", "publish",
             "restore", "diff", "runs", "logs", "cancel", "retry", "rerun", "approve", "reject",
             "environments", "variables", "connections", "test", "promote", "rollback",
             "promotions", "security-groups", "members", "tokens"}
    return "/".join(p if p in fixed else "*" for p in parts)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_each_principal_reaches_exactly_what_it_may(world, principal):
    client = client_for(world, principal)
    wrong = []
    for method, path, body, allowed in table(world):
        with transaction.atomic():
            response = call(client, method, path, body)
            transaction.set_rollback(True)
        label = f"{principal} {method.upper()} {path}: {response.status_code}"
        if principal in allowed:
            if response.status_code >= 400:
                wrong.append(f"refused {label} {response.content[:200]!r}")
            continue
        if response.status_code not in REFUSALS:
            wrong.append(f"reached {label}")
            continue
        error = response.json().get("error", {})
        if not (error.get("code") and error.get("message") and "fields" in error):
            wrong.append(f"refusal outside the error format: {label} {response.content[:200]!r}")
        if principal == "anonymous" and response.status_code != 401:
            wrong.append(f"anonymous not told to authenticate: {label}")
    assert wrong == []


@pytest.mark.parametrize("principal", ["anonymous", "outsider", "viewer-token", "member"])
def test_refused_writes_change_nothing(world, principal):
    client = client_for(world, principal)
    before = snapshot()
    for method, path, body, allowed in table(world):
        if method != "get" and principal not in allowed:
            call(client, method, path, body)
    assert snapshot() == before
