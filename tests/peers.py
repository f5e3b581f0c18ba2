"""Real peers for tests: a recording HTTP server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Reply = tuple[int, dict[str, str], bytes]


class RecordingServer:
    """Records every request; `reply` decides the answer (default: 200 with a JSON echo)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.releases: list[threading.Event] = []
        self.reply: Callable[[dict[str, Any]], Reply] = self.echo
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = {
                    "method": self.command, "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length) if length else b"", "at": time.time(),
                }
                server.requests.append(request)
                status, headers, body = server.reply(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def hold_first(self, reply: Reply = (200, {"Content-Type": "application/json"},
                                          b'{"ok": true}')) -> threading.Event:
        """Answer `reply` to every request, the first one only once the returned event is set:
        the test acts (kills the caller, say) while that call is under way, however long it
        takes, instead of betting on a pause. `close` sets it, so no handler is left waiting."""
        release = threading.Event()
        self.releases.append(release)

        def held(request: dict[str, Any]) -> Reply:
            if request is self.requests[0]:
                release.wait(timeout=120)
            return reply

        self.reply = held
        return release

    @staticmethod
    def echo(request: dict[str, Any]) -> Reply:
        body = json.dumps({"path": request["path"], "got": request["body"].decode()}).encode()
        return 200, {"Content-Type": "application/json"}, body

    def json_bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests if r["body"]]

    def close(self) -> None:
        for release in self.releases:
            release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_peer():
    server = RecordingServer()
    yield server
    server.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_peer():
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    mailbox.port = port
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox
    controller.stop()
