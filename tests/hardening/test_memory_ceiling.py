"""The worker's memory ceiling is the last wall: a step that reaches it fails, named, and the
worker goes on with the next run."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from environments.models import Environment
from runner import services
from tests.execution import wait_for_run
from tests.runner.builders import publish_workflow

CEILING_MB = 512
HUGE_BODY_MB = 1536  # streamed: the test process never holds it
pytestmark = pytest.mark.django_db(transaction=True)


class EndlessBody(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(HUGE_BODY_MB * 1024 * 1024))
        self.end_headers()
        chunk = b"x" * (1024 * 1024)
        try:
            for _ in range(HUGE_BODY_MB):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker gave up reading: what the test expects

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def huge_peer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EndlessBody)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_step_that_reaches_the_memory_ceiling_fails_named_and_the_worker_goes_on(
        workers, huge_peer):
    dev = Environment.objects.create(name="dev", position=1)
    workers.start(1, OWLGRID_WORKER_MEMORY_MB=str(CEILING_MB),
                  OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    hungry, version = publish_workflow("hungry", [
        {"name": "swallow", "type": "http_request",
         "inputs": {"url": huge_peer + "/big", "timeout": 120}}])
    run = wait_for_run(services.run_start(workflow=hungry, version=version, environment=dev,
                                          trigger_type="manual").id, timeout=120)
    assert run.status == "failed"
    assert run.error["type"] == "memory_limit", run.error
    assert "OWLGRID_WORKER_MEMORY_MB" in run.error["message"]
    normal, normal_version = publish_workflow("normal", [
        {"name": "hello", "type": "set_variable", "inputs": {"name": "x", "value": 1}}])
    after = wait_for_run(services.run_start(workflow=normal, version=normal_version,
                                            environment=dev, trigger_type="manual").id)
    assert after.status == "completed"
