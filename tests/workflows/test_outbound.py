"""Outbound HTTP as a receiver sees it (real local servers): the URL's query kept and merged,
a redirect's target used as given, and credentials never sent on to another origin."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.peers import RecordingServer
from workflows import outbound

CREDENTIALS = {"Authorization": "Bearer tok-123", "Cookie": "sid=abc", "X-Api-Key": "k-9",
               "X-Connection-Secret": "from-a-connection"}


@pytest.fixture
def peers():
    first, second = RecordingServer(), RecordingServer()
    with override_settings(OWLGRID_OUTBOUND_ALLOWLIST=["127.0.0.1", "localhost"]):
        yield first, second
    first.close()
    second.close()


def redirect_to(location: str, status: int):
    return lambda request: (status, {"Location": location}, b"")


def test_the_url_s_own_query_is_merged_with_the_query_input(peers):
    peer, _ = peers
    outbound.send("GET", f"{peer.url}/get?a=1&keep=x", timeout=5, params={"b": "2"})
    assert peer.requests[0]["path"] == "/get?a=1&keep=x&b=2"


def test_a_redirect_target_gets_no_query_appended(peers):
    first, second = peers
    first.reply = redirect_to(f"{second.url}/next", 307)
    outbound.send("POST", f"{first.url}/start?a=1", timeout=5, params={"b": "2"}, json={})
    assert first.requests[0]["path"] == "/start?a=1&b=2"
    assert second.requests[0]["path"] == "/next"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_credentials_reach_the_first_origin_only_another_port(peers, status):
    first, second = peers
    first.reply = redirect_to(f"{second.url}/landing", status)
    outbound.send("GET", f"{first.url}/start", timeout=5, headers=dict(CREDENTIALS),
                  sensitive_headers=frozenset({"X-Connection-Secret"}))
    sent_first = first.requests[0]["headers"]
    sent_second = second.requests[0]["headers"]
    assert {name.lower() for name in CREDENTIALS} <= set(sent_first)
    assert not {name.lower() for name in CREDENTIALS} & set(sent_second)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_credentials_reach_the_first_origin_only_another_host_name(peers, status):
    peer, _ = peers
    port = peer.url.rsplit(":", 1)[1]

    def reply(request):
        if request["path"] == "/start":
            return status, {"Location": f"http://localhost:{port}/landing"}, b""
        return 200, {}, b"ok"

    peer.reply = reply
    outbound.send("GET", f"{peer.url}/start", timeout=5, headers=dict(CREDENTIALS),
                  sensitive_headers=frozenset({"X-Connection-Secret"}))
    first, second = peer.requests
    assert second["headers"]["host"].startswith("localhost")
    assert {name.lower() for name in CREDENTIALS} <= set(first["headers"])
    assert not {name.lower() for name in CREDENTIALS} & set(second["headers"])


def test_credentials_follow_a_redirect_within_the_origin(peers):
    peer, _ = peers
    peer.reply = lambda r: ((302, {"Location": "/there"}, b"") if r["path"] == "/here"
                            else (200, {}, b"ok"))
    outbound.send("GET", f"{peer.url}/here", timeout=5, headers=dict(CREDENTIALS))
    assert peer.requests[1]["headers"]["authorization"] == "Bearer tok-123"


@pytest.mark.django_db(transaction=True)
def test_a_connection_can_refuse_every_redirect(peers, workers):
    from environments.models import Environment
    from environments.services import connection_save
    from runner import services
    from tests.execution import wait_for_run
    from tests.runner.builders import publish_workflow

    first, second = peers
    first.reply = redirect_to(f"{first.url}/same-origin", 302)
    dev = Environment.objects.create(name="dev", position=1)
    connection_save(environment=dev, name="api", kind="http", secret_values={},
                    config={"base_url": first.url, "follow_redirects": False})
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    workflow, version = publish_workflow("no-redirects", [
        {"name": "call", "type": "http_request",
         "inputs": {"connection": "api", "url": "/start", "expected_status": ["3xx"]}}])
    run = wait_for_run(services.run_start(workflow=workflow, version=version, environment=dev,
                                          trigger_type="manual").id)
    assert run.status == "completed", run.error
    assert [r["path"] for r in first.requests] == ["/start"]  # the 302 was not followed
    assert run.result["output"]["status"] == 302
