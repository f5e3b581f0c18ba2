"""Every resource action end to end: real workers, and real peers started by the test."""

from __future__ import annotations

import json
import signal

import pytest
from django.utils import timezone

from environments import secrets
from environments.models import Connection, Environment, Variable
from runner import services
from runner.models import Run, StepEvent
from tests.execution import wait_for_run, wait_until
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)
LOCAL = {"OWLGRID_OUTBOUND_ALLOWLIST": "127.0.0.1"}


@pytest.fixture
def dev(db):
    return Environment.objects.create(name="dev", position=1)


def run_in(environment, workflow, version, payload=None):
    return services.run_start(workflow=workflow, version=version, environment=environment,
                              trigger_type="manual", trigger_input={"body": payload or {}})


def output_of(run, key):
    return StepEvent.objects.get(run=run, step_key=key, status="completed").output


def test_http_request_sends_what_it_is_told_with_an_idempotency_key(workers, dev, http_peer):
    Variable.objects.create(environment=dev, name="API_BASE", value=http_peer.url)
    workflow, version = publish_workflow("caller", [
        {"name": "post", "type": "http_request", "inputs": {
            "method": "POST", "url": "{{ env.API_BASE }}/orders",
            "query": {"source": "owlgrid"}, "headers": {"X-Trace": "{{ trigger.body.trace }}"},
            "json": {"id": "{{ trigger.body.id }}", "lines": "{{ trigger.body.lines }}"}}},
        {"name": "form", "type": "http_request", "inputs": {
            "method": "PUT", "url": "{{ env.API_BASE }}/form", "form": {"a": "1"}}},
    ])
    workers.start(1, **LOCAL)
    run = wait_for_run(run_in(dev, workflow, version,
                              {"id": "A1", "lines": [1, 2], "trace": "t-1"}).id)
    assert run.status == "completed", run.error
    first, second = http_peer.requests
    assert (first["method"], first["path"]) == ("POST", "/orders?source=owlgrid")
    assert json.loads(first["body"]) == {"id": "A1", "lines": [1, 2]}
    assert first["headers"]["x-trace"] == "t-1"
    assert first["headers"]["idempotency-key"] == f"{run.id}:post"
    assert second["body"] == b"a=1" and second["method"] == "PUT"
    assert output_of(run, "post")["status"] == 200
    assert output_of(run, "post")["body"]["path"] == "/orders?source=owlgrid"


def test_http_request_to_loopback_is_refused_without_the_allowlist(workers, http_peer):
    workflow, _ = publish_workflow("ssrf", [
        {"name": "peek", "type": "http_request", "inputs": {"url": http_peer.url}},
    ])
    workers.start(1)
    run = wait_for_run(services.run_start(workflow=workflow, trigger_type="manual").id)
    assert run.status == "failed" and run.error["type"] == "outbound_refused"
    assert http_peer.requests == []


def test_unexpected_status_fails_after_the_configured_retries(workers, http_peer):
    http_peer.reply = lambda request: (503, {}, b"busy")
    workflow, _ = publish_workflow("flaky", [
        {"name": "call", "type": "http_request", "inputs": {"url": http_peer.url},
         "retry": {"max_attempts": 3, "backoff_seconds": 0.05}},
    ])
    workers.start(1, **LOCAL)
    run = wait_for_run(services.run_start(workflow=workflow, trigger_type="manual").id)
    assert run.status == "failed" and run.error["type"] == "http_status"
    assert len(http_peer.requests) == 3
    keys = [r["headers"]["idempotency-key"] for r in http_peer.requests]
    assert keys == [f"{run.id}:call"] * 3  # stable across retries of the same step


def test_send_email_delivers_the_rendered_message(workers, dev, smtp_peer):
    Connection.objects.create(environment=dev, name="mail", kind="smtp", config={
        "host": "127.0.0.1", "port": smtp_peer.port, "from_email": "owl@example.com"})
    workflow, version = publish_workflow("mailer", [
        {"name": "mail", "type": "send_email", "inputs": {
            "connection": "mail", "to": ["{{ trigger.body.email }}"],
            "subject": "Order {{ trigger.body.id }} received",
            "body": "Hello {{ trigger.body.name }}, thanks!"}},
    ])
    workers.start(1, **LOCAL)
    run = wait_for_run(run_in(dev, workflow, version,
                              {"email": "ada@example.com", "id": "A1", "name": "Ada"}).id)
    assert run.status == "completed", run.error
    (message,) = smtp_peer.messages
    sent_id = StepEvent.objects.get(run=run, step_key="mail", status="completed").output[
        "message_id"]
    assert message["Message-ID"] == sent_id  # the id of the mail actually sent
    assert message["Subject"] == "Order A1 received"
    assert message["To"] == "ada@example.com"
    assert message.get_content().strip() == "Hello Ada, thanks!"


def test_slack_message_through_a_webhook_and_a_bot_token(workers, dev, http_peer):
    http_peer.reply = lambda request: (
        (200, {"Content-Type": "application/json"}, b'{"ok": true, "ts": "1.2", "channel": "C1"}')
        if "chat.postMessage" in request["path"] else (200, {}, b"ok"))
    Connection.objects.create(environment=dev, name="hook", kind="slack", config={},
                              encrypted_secrets=secrets.encrypt_json(
                                  {"webhook_url": f"{http_peer.url}/services/T/B/X"}))
    Connection.objects.create(environment=dev, name="bot", kind="slack",
                              config={"api_base": f"{http_peer.url}/api"},
                              encrypted_secrets=secrets.encrypt_json({"bot_token": "xoxb-123"}))
    workflow, version = publish_workflow("slacker", [
        {"name": "via_hook", "type": "slack_message",
         "inputs": {"connection": "hook", "text": "deployed {{ trigger.body.v }}"}},
        {"name": "via_bot", "type": "slack_message",
         "inputs": {"connection": "bot", "channel": "#ops", "text": "hi"}},
    ])
    workers.start(1, **LOCAL)
    run = wait_for_run(run_in(dev, workflow, version, {"v": "1.2"}).id)
    assert run.status == "completed", run.error
    hook, bot = http_peer.requests
    assert json.loads(hook["body"]) == {"text": "deployed 1.2"}
    assert bot["path"] == "/api/chat.postMessage"
    assert bot["headers"]["authorization"] == "Bearer xoxb-123"
    assert json.loads(bot["body"])["channel"] == "#ops"
    assert output_of(run, "via_bot") == {"ok": True, "ts": "1.2", "channel": "C1"}


def test_records_create_query_update(workers, dev):
    workflow, version = publish_workflow("crm", [
        {"name": "add", "type": "create_record", "inputs": {
            "collection": "customers", "key": "{{ trigger.body.email }}",
            "data": {"email": "{{ trigger.body.email }}", "status": "new"}}},
        {"name": "promote", "type": "update_record", "inputs": {
            "collection": "customers", "key": "{{ trigger.body.email }}",
            "data": {"status": "active"}}},
        {"name": "find", "type": "query_records", "inputs": {
            "collection": "customers", "filter": {"status": "active"}}},
    ])
    workers.start(1)
    run = wait_for_run(run_in(dev, workflow, version, {"email": "ada@example.com"}).id)
    assert run.status == "completed", run.error
    found = output_of(run, "find")
    assert found["count"] == 1
    assert found["records"][0]["data"] == {"email": "ada@example.com", "status": "active"}
    again = wait_for_run(run_in(dev, workflow, version, {"email": "ada@example.com"}).id)
    assert again.status == "failed" and again.error["type"] == "conflict"


def test_trigger_workflow_waits_for_the_child_and_stops_loops(workers):
    child, _ = publish_workflow("child", [
        {"name": "double", "type": "stop",
         "inputs": {"result": "{{ trigger.body.n * 2 }}"}},
    ])
    parent, _ = publish_workflow("parent", [
        {"name": "call", "type": "trigger_workflow",
         "inputs": {"workflow": "child", "payload": {"n": 21}}},
        {"name": "show", "type": "log", "inputs": {"message": "{{ steps.call.output.result }}"}},
    ])
    loop, _ = publish_workflow("loop", [
        {"name": "again", "type": "trigger_workflow", "inputs": {"workflow": "loop"}},
    ])
    workers.start(2)
    run = wait_for_run(services.run_start(workflow=parent, trigger_type="manual").id)
    assert run.status == "completed", run.error
    assert output_of(run, "call")["result"] == {"output": 42, "vars": {}}
    looping = wait_for_run(services.run_start(workflow=loop, trigger_type="manual").id, timeout=60)
    assert looping.status == "failed"
    deepest = Run.objects.filter(workflow=loop).order_by("-depth").first()
    assert deepest.error["type"] == "depth_limit"


@pytest.mark.e2e
def test_killed_worker_during_http_request_resumes_with_the_same_idempotency_key(
    workers, http_peer
):
    release = http_peer.hold_first()  # answered once its caller is dead
    workflow, _ = publish_workflow("charge", [
        {"name": "prepare", "type": "set_variable", "inputs": {"name": "amount", "value": 42}},
        {"name": "charge", "type": "http_request", "inputs": {
            "method": "POST", "url": f"{http_peer.url}/charge", "json": {"amount": 42}}},
        {"name": "done", "type": "log", "inputs": {"message": "charged"}},
    ])
    first = workers.start(1, sweeper=False, **LOCAL)
    run = services.run_start(workflow=workflow, trigger_type="manual")
    wait_until(lambda: http_peer.requests, timeout=20)
    workers.kill(first, signal.SIGKILL)
    release.set()
    workers.start(1, **LOCAL)
    run = wait_for_run(run.id, timeout=60)
    assert run.status == "completed", run.error
    assert len(http_peer.requests) == 2  # the killed worker's call, and the resumed one's
    assert {r["headers"]["idempotency-key"] for r in http_peer.requests} == {
        f"{run.id}:charge"}
    prepare = StepEvent.objects.filter(run=run, step_key="prepare")
    assert list(prepare.values_list("status", flat=True)) == [
        "not_started", "running", "completed"]
    assert Run.objects.get(id=run.id).finished_at <= timezone.now()
