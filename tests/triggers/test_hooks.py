"""HTTP trigger URLs through real HTTP calls: security, input checks, idempotency, responses.

Every rejected call is checked for its status, its body, and for leaving no run and no job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid

import httpx
import pytest

from access.models import SecurityGroup
from access.tokens import token_create
from environments import secrets
from environments.models import Deployment, Variable
from runner import services
from runner.models import Run, StepEvent
from runner.queueing import get_queue
from tests.execution import wait_for_run, wait_until
from tests.peers import RecordingServer
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_" + base64.b64encode(b"a-very-secret-signing-key").decode()


def document(access, before_answer=(), **settings):
    return {
        "format": "owlgrid.workflow/v1", "name": "intake", "actions": [
            {"name": "note", "type": "log", "inputs": {"message": "got {{ trigger.body }}"}},
            *before_answer,
            {"name": "answer", "type": "respond", "inputs": {
                "status": 201, "headers": {"X-Order": "{{ trigger.body.id | default('') }}"},
                "body": {"echo": "{{ trigger.body }}", "query": "{{ trigger.query }}"}}},
        ],
        "triggers": [{"name": "hook", "type": "http", "settings": settings, "access": access}],
    }


@pytest.fixture
def deploy(environments, ops_group, redis_conn):
    def deploy(access=None, before_answer=(), **settings):
        version = workflow_import(
            document=document(access or {"mode": "group", "group": "ops"}, before_answer,
                              **settings),
            publish=True)
        Deployment.objects.update_or_create(workflow=version.workflow,
                                            environment=environments["dev"],
                                            defaults={"version": version})
        return version.workflow
    return deploy


@pytest.fixture
def token(ops_group):
    return token_create(group=ops_group, name="caller")[1]


@pytest.fixture
def url(live_server):
    return f"{live_server.url}/hooks/dev/intake"


def nothing_started():
    return Run.objects.count() == 0 and len(get_queue()) == 0


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_async_call_returns_202_with_the_run(deploy, url, token):
    deploy(mode="async")
    response = httpx.post(url, json={"id": "A1"}, headers=auth(token), params={"src": "x"})
    assert response.status_code == 202
    run = Run.objects.get(id=response.json()["run_id"])
    assert run.trigger_type == "http" and run.environment.name == "dev"
    assert run.trigger_input["body"] == {"id": "A1"}
    assert run.trigger_input["query"] == {"src": "x"}
    assert "authorization" not in run.trigger_input["headers"]
    assert f"/hooks/runs/{run.id}/status?signature=" in response.headers["Location"]
    assert response.headers["Location"] == response.json()["status_url"]
    assert len(get_queue()) == 1


def test_a_caller_without_a_token_follows_its_run_at_the_signed_status_url(
        deploy, url, workers, settings, live_server):
    """A public or HMAC caller has no API token: the signed URL alone shows its run, and a
    URL whose signature was changed, or made for another run, shows nothing."""
    settings.SITE_URL = live_server.url
    deploy(access={"mode": "public"}, mode="async")
    workers.start(1)
    answer = httpx.post(url, json={"id": "P1"}).json()
    status = answer["status_url"]
    wait_until(lambda: httpx.get(status).json()["status"] == "completed", timeout=20)
    shown = httpx.get(status).json()
    assert shown["run_id"] == answer["run_id"] and shown["response"]["status"] == 201
    assert shown["response"]["headers"] == {"X-Order": "P1"}
    forged = status[:-3] + ("aaa" if not status.endswith("aaa") else "bbb")
    assert httpx.get(forged).status_code == 403
    other = str(uuid.uuid4())
    moved = status.replace(answer["run_id"], other)
    refused = httpx.get(moved)
    assert refused.status_code == 403 and "not valid" in refused.json()["error"]["message"]
    assert httpx.get(status.split("?")[0]).status_code == 403


WAIT_5S = [{"name": "pause", "type": "wait", "inputs": {"seconds": 5}}]


def test_a_response_that_breaks_the_output_schema_is_not_sent(deploy, url, token, workers):
    """The trigger promises its callers a shape: a `respond` body outside it fails the step,
    and the caller gets the run's failure (502) naming the failing path, never the body."""
    deploy(mode="sync", timeout=20, output_schema={
        "type": "object", "required": ["echo"],
        "properties": {"echo": {"type": "object", "required": ["id"]}}})
    workers.start(1)
    good = httpx.post(url, json={"id": "A9"}, headers=auth(token), timeout=30)
    assert good.status_code == 201 and good.json()["echo"] == {"id": "A9"}
    bad = httpx.post(url, json={"name": "no id"}, headers=auth(token), timeout=30)
    assert bad.status_code == 502
    error = bad.json()["error"]
    assert error["type"] == "invalid_output"
    assert "echo: 'id' is a required property" in error["message"]
    assert "no id" not in bad.text
    step = StepEvent.objects.filter(action_name="answer", status="failed").get()
    assert step.error["type"] == "invalid_output"


def test_an_output_schema_that_is_not_a_schema_is_refused_at_save(deploy):
    from workflows.format import ImportErrors

    with pytest.raises(ImportErrors) as refused:
        deploy(mode="sync", output_schema={"type": "no-such-type"})
    assert any(path.endswith("settings.output_schema") and "not a valid JSON Schema" in message
               for path, message in refused.value.problems)


def test_sync_call_is_answered_by_a_worker(deploy, url, token, workers):
    """The web process never executes a run: the worker does, and the caller gets its answer."""
    deploy(mode="sync", timeout=20)
    workers.start(1)
    response = httpx.post(url, json={"id": "A2"}, headers=auth(token), timeout=30)
    run = wait_for_run(Run.objects.get().id)
    assert response.status_code == 201, (run.status, run.error, response.text)
    assert response.headers["X-Order"] == "A2"
    assert response.json()["echo"] == {"id": "A2"}
    assert run.status == "completed" and run.response["status"] == 201
    steps = StepEvent.objects.filter(run=run).exclude(step_key="")
    assert all(":web-" not in event.worker for event in steps)


def test_sync_run_is_recorded_before_any_call_it_makes(deploy, url, token, settings, http_peer,
                                                       workers):
    """The run and its first step's result are committed before anything outside the
    database can see the run: the peer called by the second step finds them."""
    settings.OWLGRID_OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    seen_by_peer = []

    def reply(request):
        run_id = request["headers"]["idempotency-key"].split(":")[0]
        seen_by_peer.append(list(StepEvent.objects.filter(run_id=run_id).order_by("id")
                                 .values_list("step_key", "status")))
        return RecordingServer.echo(request)

    http_peer.reply = reply
    deploy(mode="sync", timeout=20, before_answer=[
        {"name": "call", "type": "http_request", "inputs": {"url": http_peer.url}}])
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    response = httpx.post(url, json={"id": "A5"}, headers=auth(token), timeout=30)
    assert response.status_code == 201, response.text
    assert seen_by_peer == [[("", "not_started"), ("", "running"), ("note", "not_started"),
                             ("call", "not_started"), ("answer", "not_started"),
                             ("note", "running"), ("note", "completed"), ("call", "running")]]


SPIN = ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")


def test_a_spinning_sync_run_answers_202_in_time_and_can_be_cancelled(
        deploy, url, token, workers, environments):
    """The caller gets 202 and the status URL within its timeout (+1 s); the run goes on in
    its worker, never in the web process, and a cancel stops it."""
    environments["dev"].expression_time_limit_ms = 60_000
    environments["dev"].save()
    deploy(mode="sync", timeout=1, before_answer=[
        {"name": "spin", "type": "set_variable", "inputs": {"name": "x", "value": SPIN}}])
    workers.start(1)
    wait_until(workers_ready)
    began = time.monotonic()
    response = httpx.post(url, json={}, headers=auth(token), timeout=30)
    assert response.status_code == 202, response.text
    assert time.monotonic() - began < 2.0
    run = Run.objects.get(id=response.json()["run_id"])
    assert f"/hooks/runs/{run.id}/status?signature=" in response.json()["status_url"]
    wait_until(lambda: Run.objects.get(id=run.id).status == "running")
    assert ":web-" not in Run.objects.get(id=run.id).lease_owner
    assert services.run_cancel(run=run, requested_by="ana")
    assert wait_for_run(run.id, timeout=10).status == "cancelled"


def workers_ready() -> bool:
    from rq import Worker

    from runner.queueing import redis_connection

    return bool(Worker.all(connection=redis_connection()))


def test_sync_call_without_an_answer_in_time_gets_202(deploy, url, token, settings, redis_conn):
    deploy(mode="sync", timeout=0.5)  # queued, and no worker: nothing will answer
    response = httpx.post(url, json={}, headers=auth(token))
    assert response.status_code == 202 and "run_id" in response.json()
    assert Run.objects.get().status == "queued"


def test_sync_run_that_parks_answers_202_and_waits(deploy, url, token, workers):
    deploy(mode="sync", timeout=2, before_answer=WAIT_5S)
    workers.start(1)
    wait_until(workers_ready)
    response = httpx.post(url, json={}, headers=auth(token))
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    wait_until(lambda: Run.objects.get(id=run_id).status == "waiting")
    assert Run.objects.get(id=run_id).lease_owner == ""  # it holds no worker while it waits


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer og_nope_nope"},
                                     {"Authorization": "Basic abc"}])
def test_missing_or_wrong_token_is_401(deploy, url, headers):
    deploy()
    response = httpx.post(url, json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_started()


def test_token_of_another_group_is_403(deploy, url):
    deploy()
    other = SecurityGroup.objects.create(name="others", can_call_triggers=True)
    response = httpx.post(url, json={}, headers=auth(token_create(group=other, name="x")[1]))
    assert response.status_code == 403 and nothing_started()


def test_group_without_the_call_right_is_403(deploy, url, ops_group, token):
    deploy()
    ops_group.can_call_triggers = False
    ops_group.save()
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 403
    assert nothing_started()


def test_public_trigger_needs_no_credentials(deploy, url):
    deploy({"mode": "public"})
    assert httpx.post(url, json={}).status_code == 202


@pytest.mark.parametrize("path", ["/hooks/prod/intake", "/hooks/dev/nothing"])
def test_unknown_or_undeployed_is_404(deploy, live_server, token, path):
    deploy()
    response = httpx.post(live_server.url + path, json={}, headers=auth(token))
    assert response.status_code == 404 and nothing_started()


def test_inactive_workflow_is_404(deploy, url, token):
    deploy().__class__.objects.update(active=False)
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 404
    assert nothing_started()


def test_wrong_method_is_405_with_allow(deploy, url, token):
    deploy(methods=["POST", "PUT"])
    response = httpx.get(url, headers=auth(token))
    assert response.status_code == 405 and response.headers["Allow"] == "POST, PUT"
    assert nothing_started()


def test_schema_violations_list_every_field(deploy, url, token):
    deploy(json_schema={"type": "object", "required": ["id", "total"], "properties": {
        "id": {"type": "string"}, "total": {"type": "number"},
        "customer": {"type": "object", "properties": {"email": {"type": "string",
                                                                "format": "email",
                                                                "minLength": 3}}}}})
    response = httpx.post(url, json={"id": 7, "customer": {"email": "x"}}, headers=auth(token))
    assert response.status_code == 400
    fields = {f["path"]: f["message"] for f in response.json()["error"]["fields"]}
    assert set(fields) == {"body", "id", "customer.email"}
    assert "total" in fields["body"]
    assert nothing_started()


def test_wrong_content_type_for_a_json_trigger_is_400(deploy, url, token):
    deploy(json_schema={"type": "object"})
    response = httpx.post(url, content=b'{"id": 1}', headers={
        **auth(token), "Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "is not of type 'object'" in response.json()["error"]["fields"][0]["message"]
    assert nothing_started()


def test_invalid_json_is_400(deploy, url, token):
    deploy()
    response = httpx.post(url, content=b"{not json", headers={
        **auth(token), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["fields"][0]["path"] == "body"
    assert nothing_started()


def test_form_and_raw_bodies_reach_the_run(deploy, url, token):
    deploy()
    httpx.post(url, data={"a": "1", "b": "2"}, headers=auth(token))
    httpx.post(url, content=b"plain text", headers={**auth(token), "Content-Type": "text/plain"})
    bodies = [run.trigger_input["body"] for run in Run.objects.order_by("created_at")]
    assert bodies == [{"a": "1", "b": "2"}, "plain text"]


def test_too_large_body_is_413(deploy, url, token):
    deploy(max_body_bytes=100)
    response = httpx.post(url, content=b"x" * 101, headers=auth(token))
    assert response.status_code == 413 and nothing_started()


def test_rate_limit_is_429_with_retry_after(deploy, url, token):
    deploy(rate_limit_per_minute=2)
    codes = [httpx.post(url, json={}, headers=auth(token)).status_code for _ in range(3)]
    assert codes[:2] == [202, 202] and codes[2] == 429
    third = httpx.post(url, json={}, headers=auth(token))
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert Run.objects.count() == 2


def test_idempotency_key_replays_refuses_other_bodies(deploy, url, token):
    deploy()
    headers = {**auth(token), "Idempotency-Key": "order-1"}
    first = httpx.post(url, json={"id": "A"}, headers=headers)
    again = httpx.post(url, json={"id": "A"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = httpx.post(url, json={"id": "B"}, headers=headers)
    assert other.status_code == 422
    assert Run.objects.count() == 1


def test_an_idempotency_key_survives_redis_losing_everything(deploy, url, token, redis_conn):
    deploy()
    headers = {**auth(token), "Idempotency-Key": "order-9"}
    first = httpx.post(url, json={"id": "A"}, headers=headers)
    redis_conn.flushdb()  # Redis (this database) loses everything
    again = httpx.post(url, json={"id": "A"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["run_id"] == again.json()["run_id"]
    assert Run.objects.count() == 1


def test_concurrent_duplicate_is_409(deploy, url, token, workers):
    # No worker runs: the first call's run stays queued, and its caller waits for the answer.
    deploy(mode="sync", timeout=3, before_answer=WAIT_5S)
    headers = {**auth(token), "Idempotency-Key": "order-2"}
    results = []
    first = threading.Thread(target=lambda: results.append(
        httpx.post(url, json={}, headers=headers, timeout=10).status_code))
    first.start()
    wait_until(lambda: Run.objects.exists(), timeout=3)
    second = httpx.post(url, json={}, headers=headers)
    first.join()
    assert second.status_code == 409
    assert Run.objects.count() == 1


def signed(body: bytes, *, secret=SECRET, timestamp=None, message_id=None):
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    key = base64.b64decode(secret[6:])
    signature = base64.b64encode(hmac.new(
        key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": timestamp,
            "webhook-signature": f"v1,{signature}", "Content-Type": "application/json"}


@pytest.fixture
def hmac_trigger(deploy, environments):
    Variable.objects.create(environment=environments["dev"], name="WEBHOOK_SECRET",
                            is_secret=True, encrypted_value=secrets.encrypt(SECRET))
    return deploy({"mode": "hmac", "secret_variable": "WEBHOOK_SECRET"})


def test_hmac_signature_accepted_once(hmac_trigger, url):
    body = json.dumps({"id": "H1"}).encode()
    headers = signed(body)
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 401 and "already" in replay.json()["error"]["message"]
    assert Run.objects.count() == 1


def test_a_signed_message_is_refused_again_after_redis_lost_everything(hmac_trigger, url,
                                                                       redis_conn):
    body = json.dumps({"id": "H9"}).encode()
    headers = signed(body)
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    redis_conn.flushdb()  # Redis (this database) loses everything
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 401 and "already" in replay.json()["error"]["message"]
    assert Run.objects.count() == 1


def test_a_signed_body_need_not_be_json(hmac_trigger, url):
    body = b"order=H5&qty=2"
    headers = {**signed(body), "Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    assert Run.objects.count() == 1


@pytest.mark.parametrize("signature", ["v1", "v1,!!!", "v2,abc=", "", "v1,a,b"])
def test_a_malformed_signature_header_is_a_clear_401(hmac_trigger, url, signature):
    body = b'{"id": "H6"}'
    headers = {**signed(body), "webhook-signature": signature}
    answer = httpx.post(url, content=body, headers=headers)
    assert answer.status_code == 401
    message = answer.json()["error"]["message"]
    assert "signature" in message and len(message) < 200
    assert nothing_started()


@pytest.mark.parametrize("tamper", ["body", "secret", "expired", "missing"])
def test_bad_signatures_are_401(hmac_trigger, url, tamper):
    body = b'{"id": "H2"}'
    headers = {
        "body": lambda: signed(b'{"id": "H3"}'),
        "secret": lambda: signed(body, secret="whsec_" + base64.b64encode(b"wrong").decode()),
        "expired": lambda: signed(body, timestamp=time.time() - 301),
        "missing": lambda: {"Content-Type": "application/json"},
    }[tamper]()
    assert httpx.post(url, content=body, headers=headers).status_code == 401
    assert nothing_started()


def test_every_change_to_what_a_url_leads_to_is_seen_by_the_next_call(deploy, url, token,
                                                                        redis_conn):
    """Each call finds what is deployed now: never a stale route."""
    from workflows.services import workflow_set_active

    workflow = deploy(mode="async")
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 202
    workflow_set_active(workflow=workflow, active=False)
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 404
    workflow_set_active(workflow=workflow, active=True)
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 202
    deploy(mode="async", methods=["PUT"])  # a new version replaces the deployed one
    assert httpx.post(url, json={}, headers=auth(token)).status_code == 405
    assert httpx.put(url, json={}, headers=auth(token)).status_code == 202
    Deployment.objects.filter(workflow=workflow).delete()
    assert httpx.put(url, json={}, headers=auth(token)).status_code == 404


def test_every_change_to_the_environment_is_seen_by_the_next_sync_run(environments, ops_group,
                                                                     url, token, workers):
    """A worker's runs use the environment's bindings as they are now: never stale ones."""
    from environments.services import variable_set

    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "intake",
        "triggers": [{"name": "hook", "type": "http", "settings": {"mode": "sync"},
                      "access": {"mode": "group", "group": "ops"}}],
        "actions": [{"name": "answer", "type": "respond", "inputs": {"body": {
            "greeting": "{{ env.GREETING | default('none') }}",
            "other": "{{ env.OTHER | default('none') }}"}}}],
    }, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    workers.start(1)

    def answer():
        response = httpx.post(url, json={}, headers=auth(token), timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    assert answer() == {"greeting": "none", "other": "none"}
    variable_set(environment=environments["dev"], name="GREETING", value="hello", is_secret=False)
    assert answer() == {"greeting": "hello", "other": "none"}
    variable_set(environment=environments["dev"], name="GREETING", value="bonjour",
                 is_secret=False)
    assert answer() == {"greeting": "bonjour", "other": "none"}
    variable_set(environment=environments["prod"], name="OTHER", value="elsewhere",
                 is_secret=False)
    assert answer() == {"greeting": "bonjour", "other": "none"}  # another environment's
    Variable.objects.get(environment=environments["dev"], name="GREETING").delete()
    assert answer() == {"greeting": "none", "other": "none"}


def test_a_body_nested_too_deep_is_a_400_in_json(deploy, daphne_server, token):
    deploy()
    body = "[" * 100_000 + "]" * 100_000
    response = httpx.post(f"{daphne_server}/hooks/dev/intake", content=body,
                          headers={**auth(token), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nests deeper than 64 levels" in response.json()["error"]["message"]
    assert nothing_started()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_an_oversized_body_without_a_content_length_is_a_413_in_json(deploy, daphne_server,
                                                                     token, content_type):
    deploy()

    def chunks():  # sent chunked: no Content-Length to trust
        for _ in range(20):
            yield b"x" * 1_000_000

    response = httpx.post(f"{daphne_server}/hooks/dev/intake", content=chunks(), timeout=60,
                          headers={**auth(token), "Content-Type": content_type})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_started()
