"""The manual trigger and the trigger URLs shown on the workflow page."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from environments.models import Deployment
from runner.models import Run
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def deployed(environments, ops_group):
    version = workflow_import(document=(EXAMPLES / "hello-webhook.json").read_bytes(),
                              publish=True)
    version.workflow.perimeters.add(ops_group)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return version.workflow


def test_workflow_page_shows_url_and_curl(admin_user, deployed):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin_user)
    page = client.get("/workflows/hello-webhook/").content.decode()
    assert "/hooks/dev/hello-webhook" in page
    assert "curl -X POST" in page and "Authorization: Bearer" in page


def test_the_curl_example_sends_the_saved_test_input_and_says_where_a_token_comes_from(
        admin_user, deployed):
    from html import unescape

    from workflows.services import workflow_set_test_sample

    workflow_set_test_sample(workflow=deployed, sample={"name": "Ada O'Hara"})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin_user)
    page = unescape(client.get("/workflows/hello-webhook/").content.decode())
    assert """-d '{"name": "Ada O'\\''Hara"}'""" in page  # the shell's own quoting
    assert "Create a token for ops" in page  # made from this page (tests/browser/test_deploy)
    outsider_view = Client(HTTP_HOST="127.0.0.1")
    outsider_view.force_login(viewer_of(deployed))
    page = unescape(outsider_view.get("/workflows/hello-webhook/").content.decode())
    assert "Create a token for ops" not in page and "manage.py create_token ops" in page


def viewer_of(workflow):
    """A user who may see the workflow but is neither an administrator nor in `ops`."""
    from django.contrib.auth import get_user_model

    from access.models import SecurityGroup

    group = SecurityGroup.objects.create(name="readers", can_view=True)
    user = get_user_model().objects.create_user("reader", password="reader-pass-123")
    group.members.add(user)
    workflow.perimeters.add(group)
    return user


def test_manual_run_starts_the_deployed_version(member, deployed):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    response = client.post("/workflows/hello-webhook/run/",
                           {"environment": "dev", "input": '{"name": "Ada"}'})
    run = Run.objects.get()
    assert response.status_code == 302 and response.url == f"/runs/{run.id}/"
    assert run.trigger_type == "manual" and run.trigger_input == {"body": {"name": "Ada"}}
    assert run.started_by == member


def test_manual_run_refuses_bad_input_and_outsiders(member, outsider, deployed, ops_group):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    client.post("/workflows/hello-webhook/run/", {"environment": "dev", "input": "{nope"})
    assert not Run.objects.exists()
    ops_group.can_run = False
    ops_group.save()
    assert client.post("/workflows/hello-webhook/run/", {"environment": "dev"}).status_code == 403
    client.force_login(outsider)
    assert client.post("/workflows/hello-webhook/run/", {"environment": "dev"}).status_code == 404
    assert not Run.objects.exists()


def test_a_token_is_made_on_the_workflow_page_only_by_who_may(admin_user, deployed):
    from html import unescape

    from access.models import ApiToken

    reader = Client(HTTP_HOST="127.0.0.1")
    reader.force_login(viewer_of(deployed))
    assert reader.post("/workflows/hello-webhook/token/", {"group": "ops"}).status_code == 403
    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(admin_user)
    assert admin.post("/workflows/hello-webhook/token/", {"group": "other"}).status_code == 404
    page = unescape(admin.post("/workflows/hello-webhook/token/", {"group": "ops"})
                    .content.decode())
    token = ApiToken.objects.get()
    assert token.group.name == "ops" and f"export OWLGRID_TOKEN=og_{token.prefix}_" in page
