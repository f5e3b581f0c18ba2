"""The SSRF guard: internal addresses refused in every spelling, redirects and DNS included."""

from __future__ import annotations

import socket

import httpx
import pytest

from workflows import outbound


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/", "http://2130706433/", "http://0177.0.0.1/",
    "http://0x7f.1/", "http://[::1]/", "http://0.0.0.0/", "http://10.0.0.8/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://[2002:a9fe:a9fe::1]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://metadata.google.internal/", "http://224.0.0.1/",
])
def test_internal_addresses_are_refused(url):
    with pytest.raises(outbound.OutboundRefused):
        outbound.vet(url)


def test_public_addresses_pass(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))])
    host, address = outbound.vet("http://example.com/")
    assert host == "example.com" and str(address) == "93.184.216.34"


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))])
    with pytest.raises(outbound.OutboundRefused, match="private"):
        outbound.vet("http://innocent.example/")


def test_the_connection_is_pinned_to_the_vetted_address(monkeypatch, http_peer, settings):
    """DNS rebinding: the name resolves to a public address once, then to loopback; the request
    goes to the vetted public address, never to the loopback server."""
    answers = iter(["93.184.216.34", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = http_peer.url.rsplit(":", 1)[1]
    with pytest.raises(httpx.HTTPError):  # the public address is not reachable from here
        outbound.send("GET", f"http://rebind.example:{port}/", timeout=1)
    assert http_peer.requests == []
    assert next(answers) == "127.0.0.1"  # the second answer was never asked for


def test_redirects_to_internal_addresses_are_refused(http_peer, settings, monkeypatch):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    http_peer.reply = lambda request: (302, {"Location": "http://169.254.169.254/"}, b"")
    with pytest.raises(outbound.OutboundRefused, match="link-local"):
        outbound.send("GET", http_peer.url, timeout=5)


def test_the_allowlist_opens_an_exception(http_peer, settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    assert outbound.send("GET", http_peer.url, timeout=5).status_code == 200


@pytest.mark.django_db
def test_connection_tests_and_slack_use_the_same_guard(environments):
    from environments.models import Connection
    from environments.services import connection_test

    connection = Connection.objects.create(
        environment=environments["dev"], name="meta", kind="http",
        config={"base_url": "http://169.254.169.254/latest"})
    ok, message = connection_test(connection=connection)
    assert not ok and "link-local" in message


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "localhost"])
def test_smtp_connection_tests_and_send_email_are_refused_like_http(environments, host,
                                                                     smtp_peer):
    """Refused before any socket is opened: the answer is the same whether a port is open."""
    from environments.models import Connection
    from environments.services import connection_test

    answers = set()
    for port in (smtp_peer.port, 9):  # an SMTP server listens on the first, nothing on 9
        connection = Connection.objects.create(
            environment=environments["dev"], name=f"mail-{port}", kind="smtp",
            config={"host": host, "port": port})
        ok, message = connection_test(connection=connection)
        assert not ok and message.startswith("refused:")
        answers.add(message)
    assert len(answers) == 1
    assert not smtp_peer.messages


def test_the_allowlist_opens_exactly_what_it_names(settings):
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    outbound.vet("http://127.0.0.1:9/")  # named: allowed
    for url in ("http://127.0.0.2/", "http://169.254.169.254/", "http://10.0.0.1/",
                "http://[::1]/"):
        with pytest.raises(outbound.OutboundRefused):
            outbound.vet(url)
