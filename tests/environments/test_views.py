"""Environment, group and promotion pages: write-only secrets, field errors, rights."""

from __future__ import annotations

import pytest
from django.test import Client

from access.models import ApiToken, SecurityGroup
from environments.models import Connection, Deployment, PromotionRecord, Variable
from environments.services import variable_set
from runner import services
from runner.models import Run
from tests.execution import wait_for_run
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db
SECRET = "hunter2-very-secret"


def client_for(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def test_secret_variable_is_never_rendered_back(environments, admin_user):
    client = client_for(admin_user)
    response = client.post("/environments/dev/variables/",
                           {"name": "TOKEN", "is_secret": "on", "value": SECRET})
    assert response.status_code == 302
    page = client.get("/environments/dev/").content.decode()
    assert "TOKEN" in page and SECRET not in page and "secret, set" in page
    assert Variable.objects.get(name="TOKEN").value == ""


def test_invalid_variable_shows_the_error_at_the_field_and_saves_nothing(environments,
                                                                         admin_user):
    response = client_for(admin_user).post("/environments/dev/variables/",
                                           {"name": "1 bad name", "value": "x"})
    assert response.status_code == 400
    assert "Use letters, digits" in response.content.decode()
    assert not Variable.objects.exists()


def test_only_administrators_change_environments(environments, member):
    client = client_for(member)
    assert client.post("/environments/dev/variables/", {"name": "A", "value": "1"}
                       ).status_code == 403
    assert client.post("/environments/", {"name": "qa"}).status_code == 403
    assert client.get("/environments/security-groups/ops/").status_code == 403
    assert not Variable.objects.exists()


def test_connection_secret_is_write_only_and_test_is_real(environments, admin_user, http_peer,
                                                          settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    client = client_for(admin_user)
    client.post("/environments/dev/connections/", {
        "name": "crm", "kind": "http", "base_url": http_peer.url, "auth_type": "bearer",
        "token": SECRET, "health_path": "/health"})
    client.post("/environments/dev/connections/", {
        "name": "crm", "kind": "http", "base_url": http_peer.url, "auth_type": "bearer",
        "token": "", "health_path": "/health"})  # blank keeps the stored token
    page = client.get("/environments/dev/").content.decode()
    assert SECRET not in page
    fragment = client.post("/environments/dev/connections/crm/test/",
                           HTTP_HX_REQUEST="true").content.decode()
    assert "HTTP 200" in fragment and SECRET not in fragment
    assert http_peer.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert Connection.objects.get().last_test_ok is True


def test_smtp_connection_test_reaches_the_server(environments, admin_user, smtp_peer, settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    client = client_for(admin_user)
    client.post("/environments/dev/connections/", {
        "name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp_peer.port})
    fragment = client.post("/environments/dev/connections/mail/test/").content.decode()
    assert "accepted the connection" in fragment


def test_connection_form_errors(environments, admin_user):
    response = client_for(admin_user).post("/environments/dev/connections/",
                                           {"name": "crm", "kind": "http"})
    assert response.status_code == 400 and "needs a base URL" in response.content.decode()
    assert not Connection.objects.exists()


def test_token_shown_once_then_revoked(admin_user, ops_group):
    client = client_for(admin_user)
    page = client.post("/environments/security-groups/ops/",
                       {"action": "create_token", "name": "ci"}).content.decode()
    token = ApiToken.objects.get()
    assert "og_" + token.prefix in page
    shown = page.split('<pre id="new-token">')[1].split("</pre>")[0]
    assert len(shown) > 40
    later = client.get("/environments/security-groups/ops/").content.decode()
    assert shown not in later
    client.post("/environments/security-groups/ops/",
                {"action": "revoke_token", "prefix": token.prefix})
    assert ApiToken.objects.get().revoked_at is not None


def deploy(environments, ops_group):
    ops_group.deploy_environments.set(environments.values())
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "promoted",
        "actions": [{"name": "a", "type": "log", "inputs": {"message": "v1"}}]}, publish=True)
    version.workflow.perimeters.add(ops_group)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return version


def test_promote_page_dry_run_then_promote(environments, ops_group, member):
    deploy(environments, ops_group)
    client = client_for(member)
    page = client.post("/environments/promote/promoted/", {
        "source": "dev", "target": "staging", "action": "dry_run"}).content.decode()
    assert "staging follows dev" in page and not PromotionRecord.objects.exists()
    client.post("/environments/promote/promoted/", {
        "source": "dev", "target": "staging", "action": "promote"})
    assert Deployment.objects.filter(environment__name="staging").exists()
    page = client.post("/environments/promote/promoted/", {
        "source": "staging", "target": "dev", "action": "promote"}).content.decode()
    assert "Nothing changed" in page


def test_outsider_cannot_see_or_promote(environments, ops_group, outsider):
    deploy(environments, ops_group)
    client = client_for(outsider)
    assert client.get("/environments/promote/promoted/").status_code == 404
    assert client.post("/environments/promote/promoted/", {
        "source": "dev", "target": "staging", "action": "promote"}).status_code == 404
    assert not PromotionRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_waiting_run_resumes_on_its_version_after_a_promotion(environments, ops_group,
                                                                admin_user, workers):
    ops_group.deploy_environments.set(environments.values())
    first = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "pinned", "actions": [
            {"name": "nap", "type": "wait", "inputs": {"seconds": 3}},
            {"name": "say", "type": "log", "inputs": {"message": "old"}}]}, publish=True)
    for name in ("dev", "staging"):
        Deployment.objects.create(workflow=first.workflow, environment=environments[name],
                                  version=first)
    workers.start(1)
    waiting = services.run_start(workflow=first.workflow, environment=environments["staging"],
                                 trigger_type="manual")
    wait_for_run(waiting.id, statuses=("waiting",))
    second = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "pinned", "actions": [
            {"name": "say", "type": "log", "inputs": {"message": "new"}}]}, publish=True)
    Deployment.objects.filter(environment=environments["dev"]).update(version=second)
    from environments.promotion import workflow_promote

    workflow_promote(workflow=first.workflow, source=environments["dev"],
                     target=environments["staging"], user=admin_user)
    fresh = wait_for_run(services.run_start(workflow=first.workflow,
                                            environment=environments["staging"],
                                            trigger_type="manual").id)
    waiting = wait_for_run(waiting.id)
    assert waiting.version == first and waiting.result["output"]["message"] == "old"
    assert fresh.version == second and fresh.result["output"]["message"] == "new"
    assert Run.objects.count() == 2


def test_variable_set_service_keeps_secret_on_blank(environments):
    variable_set(environment=environments["dev"], name="K", value=SECRET, is_secret=True)
    variable_set(environment=environments["dev"], name="K", value="", is_secret=True)
    from environments.secrets import decrypt

    assert decrypt(Variable.objects.get().encrypted_value) == SECRET


def test_administrators_create_and_delete_groups_in_the_browser(environments, admin_user):
    client = client_for(admin_user)
    invalid = client.post("/environments/security-groups/", {"name": "Bad Name"})
    assert "Use 1 to 63 lowercase" in invalid.content.decode()
    assert not SecurityGroup.objects.exists()
    created = client.post("/environments/security-groups/", {"name": "auditors"})
    assert created.status_code == 302 and created["Location"].endswith("/auditors/")
    unconfirmed = client.post("/environments/security-groups/auditors/delete/", {"confirm": "x"})
    assert unconfirmed.status_code == 302 and SecurityGroup.objects.filter(name="auditors").exists()
    client.post("/environments/security-groups/auditors/delete/", {"confirm": "auditors"})
    assert not SecurityGroup.objects.filter(name="auditors").exists()


def test_members_cannot_create_groups_or_delete_connections(environments, member):
    client = client_for(member)
    assert client.post("/environments/security-groups/", {"name": "mine"}).status_code == 403
    Connection.objects.create(environment=environments["dev"], name="mail", kind="smtp",
                              config={"host": "mx"})
    assert client.post("/environments/dev/connections/mail/delete/").status_code == 403
    assert Connection.objects.exists() and not SecurityGroup.objects.filter(name="mine").exists()


def test_a_connection_is_deleted_unless_a_deployment_needs_it(crm_in_use, admin_user):
    Connection.objects.create(environment=crm_in_use.environment, name="spare", kind="http",
                              config={"base_url": "https://crm.example"})
    client = client_for(admin_user)
    page = client.post("/environments/dev/connections/crm/delete/", follow=True)
    assert "used by deployed workflows: uses-crm@dev" in page.content.decode()
    client.post("/environments/dev/connections/spare/delete/")
    assert list(Connection.objects.values_list("name", flat=True)) == ["crm"]
