"""Secrets: encrypted at rest, rotatable, and never shown — in any encoding — anywhere."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client, override_settings

from environments import secrets
from environments.models import Connection, Variable
from environments.services import connection_save, variable_set
from runner import services
from runner.models import LogLine, Run, StepEvent
from tests.execution import wait_for_run
from workflows.format import workflow_export, workflow_import

CANARY = "sk_live_Canary+Secret/42=="


def encodings(value: str) -> list[str]:
    raw = value.encode()
    return [value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="), quote(value, safe=""), quote_plus(value),
            json.dumps(value)[1:-1]]


def assert_absent(text: str) -> None:
    for form in encodings(CANARY):
        assert form not in text, f"secret leaked as {form!r}"


@pytest.mark.django_db
def test_secret_is_encrypted_at_rest_and_write_only(environments):
    variable = variable_set(environment=environments["dev"], name="TOKEN", value=CANARY,
                            is_secret=True)
    assert variable.value == "" and CANARY not in variable.encrypted_value
    assert secrets.decrypt(variable.encrypted_value) == CANARY
    # A blank value on edit keeps the stored secret.
    variable_set(environment=environments["dev"], name="TOKEN", value="", is_secret=True)
    assert secrets.decrypt(Variable.objects.get(name="TOKEN").encrypted_value) == CANARY


@pytest.mark.django_db
def test_key_rotation_keeps_everything_readable(environments, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.OWLGRID_SECRETS_KEYS = [old]
    variable_set(environment=environments["dev"], name="TOKEN", value=CANARY, is_secret=True)
    connection_save(environment=environments["dev"], name="crm", kind="http",
                    config={"base_url": "https://crm.example.com"},
                    secret_values={"token": CANARY})
    with override_settings(OWLGRID_SECRETS_KEYS=[new, old]):
        call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with override_settings(OWLGRID_SECRETS_KEYS=[new]):  # the old key is gone
        assert secrets.decrypt(Variable.objects.get().encrypted_value) == CANARY
        assert secrets.decrypt_json(Connection.objects.get().encrypted_secrets) == {
            "token": CANARY}


def test_masking_covers_every_encoding():
    text = " | ".join(encodings(CANARY))
    masked = secrets.mask(text, [CANARY])
    assert_absent(masked)
    assert masked.count(secrets.MASK) == len(encodings(CANARY))


@pytest.mark.django_db(transaction=True)
def test_canary_never_appears_in_logs_outputs_exports_api_or_pages(
    environments, ops_group, admin_user, workers, http_peer, smtp_peer
):
    dev = environments["dev"]
    variable_set(environment=dev, name="API_TOKEN", value=CANARY, is_secret=True)
    connection_save(environment=dev, name="mail", kind="smtp",
                    config={"host": "127.0.0.1", "port": smtp_peer.port}, secret_values={})
    http_peer.reply = lambda request: (200, {"Content-Type": "application/json"},
                                       json.dumps({"echo": request["headers"]}).encode())
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "leaky", "actions": [
            {"name": "call", "type": "http_request", "inputs": {
                "url": http_peer.url, "headers": {"Authorization": "Bearer {{ env.API_TOKEN }}"},
                "json": {"token": "{{ env.API_TOKEN }}"}}},
            {"name": "mail", "type": "send_email", "inputs": {
                "connection": "mail", "to": ["ops@example.com"], "subject": "token",
                "body": "the token is {{ env.API_TOKEN }}"}},
            {"name": "say", "type": "log", "inputs": {
                "message": "token {{ env.API_TOKEN }}"}},
        ]}, publish=True)
    version.workflow.perimeters.add(ops_group)
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    run = wait_for_run(services.run_start(workflow=version.workflow, version=version,
                                          environment=dev, trigger_type="manual").id)
    # The secret really was used...
    assert http_peer.requests[0]["headers"]["authorization"] == f"Bearer {CANARY}"
    assert CANARY in smtp_peer.messages[0].get_content()
    # ...and shows nowhere.
    stored = [json.dumps(list(LogLine.objects.values_list("message", flat=True)))]
    stored += [json.dumps([e.inputs, e.output, e.error]) for e in StepEvent.objects.all()]
    run = Run.objects.get(id=run.id)
    stored += [json.dumps([run.result, run.response, run.error])]
    stored += [json.dumps(workflow_export(workflow=version.workflow))]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin_user)
    for url in (f"/runs/{run.id}/", f"/api/runs/{run.id}", f"/api/runs/{run.id}/logs",
                "/environments/", f"/runs/{run.id}/log.txt"):
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        stored.append(body.decode())
    for text in stored:
        assert_absent(text)
    assert run.status == "completed", run.error
