"""The pages of the foundation: login, navigation, lists and details, each behind a login."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from workflows.format import workflow_import

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hello-webhook.json"


@pytest.fixture
def client():
    return Client(HTTP_HOST="127.0.0.1")


@pytest.fixture
def hello(ops_group):
    version = workflow_import(document=EXAMPLE.read_bytes(), publish=True)
    version.workflow.perimeters.add(ops_group)
    return version.workflow


@pytest.mark.parametrize("url", ["/workflows/", "/runs/", "/environments/",
                                 "/environments/security-groups/", "/workflows/hello-webhook/"])
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_login_then_the_workflow_list_with_navigation(client, admin_user, hello):
    client.post("/login/", {"username": "admin", "password": "password"})
    page = client.get("/workflows/").content.decode()
    for item in ("Workflows", "Runs", "Environments", "Security groups", "hello-webhook"):
        assert item in page
    assert "/static/vendor/htmx/htmx.min.js" in page


def test_workflow_list_filters_and_htmx_fragment(client, admin_user, hello):
    client.force_login(admin_user)
    assert "hello-webhook" not in client.get("/workflows/?q=nothing-like-it").content.decode()
    fragment = client.get("/workflows/?q=hello", HTTP_HX_REQUEST="true").content.decode()
    assert "hello-webhook" in fragment and "<html" not in fragment
    assert "hello-webhook" in client.get("/workflows/?tag=demo").content.decode()
    assert "hello-webhook" not in client.get("/workflows/?active=no").content.decode()


def test_detail_and_export(client, admin_user, hello):
    client.force_login(admin_user)
    page = client.get("/workflows/hello-webhook/").content.decode()
    assert "greeting" in page and "respond" in page
    exported = client.get("/workflows/hello-webhook/export/")
    assert json.loads(exported.content) == json.loads(EXAMPLE.read_text())


def test_outsider_sees_no_workflow(client, outsider, hello):
    client.force_login(outsider)
    assert "hello-webhook" not in client.get("/workflows/").content.decode()
    assert client.get("/workflows/hello-webhook/").status_code == 404


def test_environment_and_group_pages(client, admin_user, environments, ops_group):
    client.force_login(admin_user)
    assert "Staging" in client.get("/environments/").content.decode()
    assert "ops" in client.get("/environments/security-groups/").content.decode()


def test_logout(client, admin_user):
    client.force_login(admin_user)
    client.post("/logout/")
    assert client.get("/workflows/").status_code == 302
