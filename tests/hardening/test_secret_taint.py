"""Canaries: a secret, and whatever an expression derives from it, reach the peers an action
sends them to and nobody else, whatever chain of operations made them.

Hypothesis generates secrets with spaces, quotes, backslashes, `%`, `+`, `&`, `<>` and
non-ASCII characters, and chains of the operations expressions allow. The first test checks
the chains through the renderer and the journal's stored form (many examples); the second runs
them through real workers and actions, then searches every surface a person can reach for the
secret and the derived value in every encoding.
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from urllib.parse import quote, quote_plus

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from environments.models import Connection, Deployment, Variable
from environments.services import connection_save, variable_set
from runner import services
from runner.models import LogLine, Run, StepEvent
from runner.sealing import Sealer, shown
from tests.execution import wait_for_run
from workflows.expressions import render_value
from workflows.format import workflow_export, workflow_import
from workflows.taint import Tainted

SPECIALS = " '\"\\%+&<>é€漢"
# Operations an expression may apply; {x} is the value so far.
OPERATIONS = [
    "({x}) | lower", "({x}) | upper", "({x}) | reverse", "'<' ~ ({x}) ~ '>'", "({x})[1:]",
    "({x}) | replace('a', 'A')", "({x}).swapcase()", "({x}) | title", "({x}) | tojson",
    "'%s!' | format({x})", "({x}) | list | join('')", "({x}).split(' ') | join('_')",
    "'{}{}'.format({x}, 'z')", "({x}) * 2", "({x}) + '.'", "({x}) | urlencode", "({x}) | trim",
    "({x}) | center(40)", "'%s|%s' % (({x}), 1)", "({x}) | string | e",
]
# Whole-template forms around the chain: loops, macros, blocks.
TEMPLATES = [
    "{{{{ {chain} }}}}",
    "pre {{{{ {chain} }}}} post",
    "{{% for c in {chain} %}}{{{{ c }}}}{{% endfor %}}",
    "{{% macro m(a) %}}[{{{{ a }}}}]{{% endmacro %}}{{{{ m({chain}) }}}}",
    "{{% set b %}}{{{{ {chain} }}}}{{% endset %}}{{{{ b | upper }}}}",
]

secrets_st = st.builds(
    lambda core, specials, cut: core[:cut] + specials + core[cut:],
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=8,
            max_size=12),
    st.text(SPECIALS, min_size=2, max_size=6), st.integers(0, 8))
chains_st = st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=4)


def expression(chain: list[str]) -> str:
    value = "env.API_KEY"
    for operation in chain:
        value = operation.replace("{x}", value)
    return value


def encodings(value: str) -> set[str]:
    raw = value.encode()
    forms = {value, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("="),
             base64.urlsafe_b64encode(raw).decode().rstrip("="), quote(value, safe=""),
             quote_plus(value), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1], html.escape(value),
             repr(value)[1:-1]}
    return {form for form in forms if len(form) >= 8}


def leaked(text: str, *values: str) -> list[str]:
    return [form for value in values for form in encodings(value) if form in text]


def render(template: str, secret: str, *, marked: bool) -> object:
    value = Tainted.secret(secret, "API_KEY") if marked else secret
    return render_value(template, {"env": {"API_KEY": value}, "vars": {}, "steps": {},
                                   "trigger": {}, "run": {}})


@settings(max_examples=300, deadline=None)
@given(secret=secrets_st, chain=chains_st, template=st.sampled_from(TEMPLATES))
def test_whatever_a_chain_derives_stays_marked_and_is_stored_sealed(secret, chain, template):
    source = template.format(chain=expression(chain))
    plain = render(source, secret, marked=False)
    marked = render(source, secret, marked=True)
    assert marked == plain  # the mark changes nothing an action sends
    assert isinstance(marked, Tainted)
    sealer = Sealer({"API_KEY": secret}, revealed=[])
    stored = json.dumps(sealer.seal(marked), ensure_ascii=False)
    shown_text = json.dumps(shown(sealer.seal(marked)), ensure_ascii=False)
    assert not leaked(stored + shown_text, secret, str(plain))
    assert sealer.hydrate(sealer.seal(marked)) == plain  # a resumed run gets it back


@pytest.fixture
def canary_world(environments, ops_group, admin_user, workers, http_peer, smtp_peer):
    dev = environments["dev"]
    connection_save(environment=dev, name="mail", kind="smtp",
                    config={"host": "127.0.0.1", "port": smtp_peer.port}, secret_values={})

    def echo_everything(request):  # the peer sends back what it got: the output holds it
        body = json.dumps({"headers": request["headers"], "got": request["body"].decode(),
                           "path": request["path"]}).encode()
        status = 500 if request["path"].startswith("/fail") else 200
        return status, {"Content-Type": "application/json"}, body

    http_peer.reply = echo_everything
    child = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "canary-child", "actions": [
            {"name": "noted", "type": "log", "inputs": {"message": "child got {{ trigger.body }}"}},
        ]}, publish=True)
    child.workflow.perimeters.add(ops_group)
    Deployment.objects.create(workflow=child.workflow, environment=dev, version=child)
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    yield {"dev": dev, "ops": ops_group, "admin": admin_user, "http": http_peer,
           "smtp": smtp_peer}
    Variable.objects.filter(environment=dev).delete()
    Connection.objects.filter(environment=dev).delete()


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(secret=secrets_st, chain=chains_st)
def test_a_derived_secret_reaches_the_peers_and_no_surface(canary_world, secret, chain):
    world = canary_world
    variable_set(environment=world["dev"], name="API_KEY", value=secret, is_secret=True)
    derived = str(render("{{ " + expression(chain) + " }}", secret, marked=False))
    name = f"canary-{uuid.uuid4().hex[:8]}"
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": name, "actions": [
            {"name": "keep", "type": "set_variable",
             "inputs": {"name": "v", "value": "{{ " + expression(chain) + " }}"}},
            {"name": "say", "type": "log", "inputs": {"message": "v={{ vars.v }}"}},
            {"name": "send", "type": "http_request", "inputs": {
                "url": world["http"].url + "/send", "method": "POST",
                "headers": {"X-Token": "{{ vars.v | urlencode }}"},
                "json": {"v": "{{ vars.v }}", "whole": "{{ env }}"}}},
            {"name": "refused", "type": "http_request", "continue_on_error": True, "inputs": {
                "url": world["http"].url + "/fail", "method": "POST", "body": "{{ vars.v }}"}},
            {"name": "broken", "type": "log", "continue_on_error": True,
             "inputs": {"message": "{{ (vars.v ~ 'x') | int }}"}},
            {"name": "mail", "type": "send_email", "inputs": {
                "connection": "mail", "to": ["ops@example.com"], "subject": "canary",
                "body": "v={{ vars.v }}"}},
            {"name": "child", "type": "trigger_workflow", "inputs": {
                "workflow": "canary-child", "payload": {"v": "{{ vars.v }}"}}},
        ]}, publish=True)
    version.workflow.perimeters.add(world["ops"])
    sent_before = len(world["http"].requests)
    run = wait_for_run(services.run_start(workflow=version.workflow, version=version,
                                          environment=world["dev"], trigger_type="manual").id)
    assert run.status == "completed", run.error
    # The actions really sent it...
    sent = world["http"].requests[sent_before]
    assert json.loads(sent["body"])["v"] == derived
    assert world["smtp"].messages[-1].get_content().rstrip() == f"v={derived}".rstrip()
    # ...and no surface shows it, nor the secret.
    surfaces = everything_shown(world, run, version.workflow)
    found = {where: leaked(text, secret, derived) for where, text in surfaces.items()}
    assert not {where: forms for where, forms in found.items() if forms}
    # Error details are JSON: the refused call's response body is kept as its JSON value.
    refused = StepEvent.objects.get(run=run, step_key="refused", status="failed")
    assert isinstance(refused.error["details"]["body"], dict)
    # The stored form keeps what is around the secret readable.
    say = StepEvent.objects.filter(run=run, step_key="say", status="completed").get()
    # (a chain may put text before the secret: "v=<⟦secret⟧>").
    message = shown(say.inputs)["message"]
    assert message.startswith("v=") and "\u27e6secret" in message, message


def everything_shown(world, run: Run, workflow) -> dict[str, str]:
    """Every surface a person can reach: pages, API, websocket, exports, admin, logs, and the
    database columns those show."""
    runs = [run, *Run.objects.filter(parent_run=run)]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(world["admin"])
    urls = ["/runs/", "/environments/", "/environments/dev/", f"/workflows/{workflow.name}/",
            f"/workflows/{workflow.name}/export/", "/api/runs", "/admin/runner/stepevent/",
            "/admin/runner/logline/", "/admin/runner/run/"]
    for each in runs:
        urls += [f"/runs/{each.id}/", f"/api/runs/{each.id}", f"/api/runs/{each.id}/logs",
                 f"/runs/{each.id}/log.txt", f"/admin/runner/run/{each.id}/change/"]
    urls += [f"/admin/runner/stepevent/{event.id}/change/"
             for event in StepEvent.objects.filter(run__in=runs)]
    surfaces = {}
    for url in urls:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        surfaces[url] = body.decode()
    for each in runs:
        surfaces[f"websocket {each.id}"] = websocket_frames(each, client.cookies)
        fresh = Run.objects.get(id=each.id)
        surfaces[f"run row {each.id}"] = json.dumps(
            [fresh.result, fresh.response, fresh.error, fresh.trigger_input], ensure_ascii=False)
    surfaces["log lines"] = json.dumps(list(
        LogLine.objects.filter(run__in=runs).values_list("message", flat=True)),
        ensure_ascii=False)
    surfaces["step events"] = json.dumps(
        [[e.inputs, e.output, e.error] for e in StepEvent.objects.filter(run__in=runs)],
        ensure_ascii=False)
    surfaces["export"] = json.dumps(workflow_export(workflow=workflow), ensure_ascii=False)
    return surfaces


def websocket_frames(run: Run, cookies) -> str:
    from owlgrid_site.asgi import application

    async def backfill() -> str:
        cookie = f"sessionid={cookies['sessionid'].value}"
        socket = WebsocketCommunicator(application, f"/ws/runs/{run.id}/",
                                       headers=[(b"cookie", cookie.encode()),
                                                (b"origin", b"http://127.0.0.1"),
                                                (b"host", b"127.0.0.1")])
        connected, _ = await socket.connect()
        assert connected
        frames = []
        while True:
            frame = await socket.receive_json_from(timeout=5)
            frames.append(frame)
            if frame.get("type") == "status" and frame["status"] in {"completed", "failed"}:
                break
        await socket.disconnect()
        return json.dumps(frames, ensure_ascii=False)

    return async_to_sync(backfill)()
