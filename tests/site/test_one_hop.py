"""Pages and the API under ASGI (owlgrid_site/one_hop.py): the middleware chain and the view run
in one thread hop, and the middleware still does its work (CSRF, sessions, authentication,
security headers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from channels.testing import HttpCommunicator

from owlgrid_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
HOST = [(b"host", b"127.0.0.1")]


@pytest.fixture
def hops(monkeypatch) -> Iterator[list[str]]:
    """The name of every callable the request sends to a thread with `sync_to_async`."""
    seen: list[str] = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    yield seen


def call(method: str, path: str, body: bytes = b"", headers=()) -> dict:
    communicator = HttpCommunicator(application, method, path, body, [*HOST, *headers])
    return async_to_sync(communicator.get_response)(timeout=20)


def cookies(response: dict) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for name, value in response["headers"]:
        if name.lower() == b"set-cookie":
            jar.load(value.decode())
    return jar


def test_a_page_runs_its_middleware_and_view_in_one_hop(hops):
    response = call("GET", "/login/")

    assert response["status"] == 200
    headers = {name.lower(): value for name, value in response["headers"]}
    assert headers[b"x-frame-options"] == b"DENY"  # clickjacking middleware
    assert "csrftoken" in cookies(response)  # CSRF middleware, with the template's token
    # request_started, the chain with the view, request_finished; Django's own chain made 12.
    assert len(hops) <= 3, hops
    assert sum(name.endswith("get_response") for name in hops) == 1, hops


def test_a_login_goes_through_csrf_sessions_and_authentication(django_user_model):
    django_user_model.objects.create_user("ada", password="pass-123456x")
    page = call("GET", "/login/")
    token = cookies(page)["csrftoken"].value
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page["body"]).group(1)
    form = b"username=ada&password=pass-123456x&csrfmiddlewaretoken=" + form_token
    content = [(b"content-type", b"application/x-www-form-urlencoded"),
               (b"cookie", f"csrftoken={token}".encode())]

    refused = call("POST", "/login/", form.replace(form_token, b"forged" * 8), content)
    logged_in = call("POST", "/login/", form, content)

    assert refused["status"] == 403
    assert logged_in["status"] == 302, logged_in["body"][:500]
    session = cookies(logged_in)["sessionid"].value
    home = call("GET", "/workflows/", headers=[(b"cookie", f"sessionid={session}".encode())])
    assert home["status"] == 200
    assert b"ada" in home["body"]


def test_the_api_answers_an_unauthenticated_call_in_its_error_format():
    response = call("GET", "/api/workflows")
    assert response["status"] == 401
    assert json.loads(response["body"])["error"]["code"] == "unauthenticated"
