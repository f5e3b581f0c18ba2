"""Trigger calls through the real server (Daphne): `/hooks/` is served by its own handler
(owlgrid_site/hooks_asgi.py), without the browser middleware but with what a caller relies on."""

from __future__ import annotations

import httpx
import pytest

from environments.models import Deployment, Environment
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deployed():
    environment, _ = Environment.objects.get_or_create(name="dev", defaults={"position": 1})
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "echo",
        "triggers": [{"name": "hook", "type": "http", "settings": {"mode": "sync", "timeout": 10},
                      "access": {"mode": "public"}}],
        "actions": [{"name": "answer", "type": "respond",
                     "inputs": {"status": 201, "body": {"got": "{{ trigger.body }}"}}}],
    }, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environment,
                              version=version)


def test_a_sync_call_is_answered_with_security_headers_and_no_session(daphne_server, deployed):
    response = httpx.post(f"{daphne_server}/hooks/dev/echo", json={"n": 1}, timeout=20)
    assert response.status_code == 201, response.text
    assert response.json() == {"got": {"n": 1}}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "set-cookie" not in response.headers


def test_unknown_workflows_and_nul_bytes_get_their_json_errors(daphne_server, deployed):
    missing = httpx.post(f"{daphne_server}/hooks/dev/nothing-here", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    nul = httpx.post(f"{daphne_server}/hooks/dev/echo", content=b'{"a": "x\\u0000y"}',
                     headers={"Content-Type": "application/json"})
    assert nul.status_code == 400
    assert nul.json()["error"]["code"] == "invalid_request"
