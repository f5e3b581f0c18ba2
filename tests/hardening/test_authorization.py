"""Attack: every page and API endpoint refuses the roles that must not reach it.

The table below is generated from URL × role; each cell is an HTTP call whose refusal (or
acceptance) is asserted. Websocket refusals are in tests/runner/test_consumers.py.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from access.models import SecurityGroup
from environments.models import Deployment
from runner.models import Run, StepEvent
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "outsider", "viewer", "member", "admin"]
REFUSED = {302, 401, 403, 404, 405, 409}


@pytest.fixture
def world(environments, ops_group, admin_user, django_user_model):
    viewers = SecurityGroup.objects.create(name="viewers", can_view=True)
    users = {
        "outsider": django_user_model.objects.create_user("outsider", password="pass-123456x"),
        "viewer": django_user_model.objects.create_user("viewer", password="pass-123456x"),
        "member": django_user_model.objects.create_user("member", password="pass-123456x"),
        "admin": admin_user,
    }
    viewers.members.add(users["viewer"])
    ops_group.members.add(users["member"])
    ops_group.deploy_environments.set([environments["dev"]])
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "secret-sauce", "actions": [
            {"name": "ask", "type": "approval", "inputs": {"group": "ops"}}]}, publish=True)
    version.workflow.perimeters.add(ops_group, viewers)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    run = Run.objects.create(workflow=version.workflow, version=version, trigger_type="manual",
                             status="failed", finished_at=timezone.now(),
                             environment=environments["dev"])
    waiting = Run.objects.create(workflow=version.workflow, version=version,
                                 trigger_type="manual", status="waiting")
    StepEvent.objects.create(run=waiting, step_key="ask", action_name="ask",
                             action_type="approval", status="waiting", inputs={"group": "ops"},
                             output={"state": {}})
    return {"users": users, "run": run, "waiting": waiting}


def table(world):
    run, waiting = world["run"].id, world["waiting"].id
    # (method, url, data, the roles that may)
    return [
        ("get", "/workflows/", None, {"outsider", "viewer", "member", "admin"}),
        ("get", "/workflows/secret-sauce/", None, {"viewer", "member", "admin"}),
        ("get", "/workflows/secret-sauce/export/", None, {"viewer", "member", "admin"}),
        ("post", "/workflows/secret-sauce/run/", {"environment": "dev"}, {"member", "admin"}),
        ("get", f"/runs/{run}/", None, {"viewer", "member", "admin"}),
        ("get", f"/runs/{run}/log.txt", None, {"viewer", "member", "admin"}),
        ("post", f"/runs/{run}/retry/", {}, {"member", "admin"}),
        ("post", f"/runs/{run}/rerun/", {}, {"member", "admin"}),
        ("post", f"/runs/{waiting}/decide/", {"step": "ask", "decision": "approve"},
         {"member", "admin"}),
        ("post", f"/runs/{waiting}/cancel/", {}, {"member", "admin"}),
        ("get", "/environments/", None, {"outsider", "viewer", "member", "admin"}),
        ("post", "/environments/dev/variables/", {"name": "X", "value": "1"}, {"admin"}),
        ("post", "/environments/", {"name": "qa"}, {"admin"}),
        ("get", "/environments/security-groups/ops/", None, {"admin"}),
        ("post", "/environments/promote/secret-sauce/",
         {"source": "dev", "target": "staging", "action": "promote"}, {"admin"}),
        ("get", "/admin/", None, {"admin"}),
        ("get", f"/api/runs/{run}", None, {"viewer", "member", "admin"}),
        ("get", f"/api/runs/{run}/logs", None, {"viewer", "member", "admin"}),
        ("post", "/api/workflows/secret-sauce/runs", {}, {"member", "admin"}),
        ("post", f"/api/runs/{run}/rerun", None, {"member", "admin"}),
        ("put", "/api/environments/dev/variables/Y", {"value": "1"}, {"admin"}),
        ("post", "/api/workflows/secret-sauce/promote", {"source": "staging", "target": "prod"},
         {"admin"}),
    ]


def call(client, method, url, data):
    if method == "get":
        return client.get(url)
    if url.startswith("/api/"):
        return getattr(client, method)(url, data or {}, content_type="application/json")
    return getattr(client, method)(url, data or {})


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_refuses_the_roles_it_must(world, role):
    client = Client(HTTP_HOST="127.0.0.1")
    if role != "anonymous":
        client.force_login(world["users"][role])
    wrong = []
    for method, url, data, allowed in table(world):
        status = call(client, method, url, data).status_code
        if role in allowed and (status >= 400 or (status == 302 and "/login/" in url)):
            wrong.append(f"{role} refused {method.upper()} {url}: {status}")
        if role not in allowed and status not in REFUSED:
            wrong.append(f"{role} reached {method.upper()} {url}: {status}")
    assert wrong == []


# Pages everyone signed in may open, whose content must stay within the reader's perimeter:
# (url, what only the perimeter may see, the roles that may see it).
LISTINGS = [
    ("/environments/dev/", "secret-sauce", {"viewer", "member", "admin"}),  # deployments
    ("/environments/dev/", "promote secret-sauce", {"viewer", "member", "admin"}),  # history
    ("/workflows/", "secret-sauce", {"viewer", "member", "admin"}),
]


@pytest.mark.parametrize("role", ["outsider", "viewer", "member", "admin"])
def test_listings_show_only_what_the_perimeter_allows(world, role):
    from environments.models import PromotionRecord

    workflow = Deployment.objects.get().workflow
    PromotionRecord.objects.create(workflow=workflow, kind="promote", target_id=Deployment
                                   .objects.get().environment_id, version=workflow.versions
                                   .first(), user=world["users"]["admin"])
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(world["users"][role])
    for url, secret, allowed in LISTINGS:
        page = client.get(url)
        assert page.status_code == 200
        assert (secret in page.content.decode()) == (role in allowed), (role, url, secret)


def test_a_hidden_name_is_not_available_in_the_same_words_as_a_visible_one(world,
                                                                           django_user_model):
    from workflows.services import workflow_create

    others = SecurityGroup.objects.create(name="others", can_view=True, can_edit=True)
    stranger = django_user_model.objects.create_user("stranger", password="pass-123456x")
    others.members.add(stranger)
    _, hidden = workflow_create(name="secret-sauce", user=stranger, perimeters=[others])
    workflow_create(name="mine", user=stranger, perimeters=[others])
    _, visible = workflow_create(name="mine", user=stranger, perimeters=[others])
    assert hidden["name"] == ["the name 'secret-sauce' is not available"]
    assert visible["name"] == ["the name 'mine' is not available"]
