"""Who may call an HTTP trigger: a security group's token, an HMAC signature, or anyone.

HMAC follows Standard Webhooks: the signature is base64(HMAC-SHA256(secret,
"{webhook-id}.{webhook-timestamp}.{raw body}")) sent as `webhook-signature: v1,<sig>`, compared
in constant time, within five minutes of the timestamp, and each id is accepted once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.http import HttpRequest

from access.tokens import bearer, token_find
from environments.models import Environment, Variable
from runner import trigger_limits
from workflows.models import Trigger

TOLERANCE_SECONDS = 300
REPLAY_TTL_SECONDS = 2 * TOLERANCE_SECONDS


@dataclass
class Refusal:
    status: int
    code: str
    message: str


def check_access(request: HttpRequest, trigger: Trigger, environment: Environment,
                 body: bytes) -> Refusal | None:
    """None when the caller may start the workflow, else why not (401 or 403)."""
    if trigger.access == Trigger.Access.PUBLIC:
        return None
    if trigger.access == Trigger.Access.GROUP:
        return check_token(request, trigger)
    return check_signature(request, trigger, environment, body)


def check_token(request: HttpRequest, trigger: Trigger) -> Refusal | None:
    token = token_find(bearer(request.headers.get("Authorization")))
    if token is None:
        return Refusal(401, "unauthenticated", "Give a valid API token: Authorization: Bearer ...")
    group = token.group
    if not (group.is_admin or (group.id == trigger.access_group_id and group.can_call_triggers)):
        return Refusal(403, "forbidden", "This token's security group may not call this trigger.")
    return None


def signing_key(trigger: Trigger, environment: Environment) -> bytes | None:
    from environments import secrets

    name = (trigger.settings or {}).get("hmac_secret_variable", "")
    variable = Variable.objects.filter(environment=environment, name=name).first()
    if variable is None:
        return None
    value = secrets.decrypt(variable.encrypted_value) if variable.is_secret else variable.value
    if value.startswith("whsec_"):
        try:
            return base64.b64decode(value[6:])
        except ValueError:
            return None
    return value.encode()


def sign(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_signature(request: HttpRequest, trigger: Trigger, environment: Environment,
                    body: bytes) -> Refusal | None:
    message_id = request.headers.get("webhook-id", "")
    timestamp = request.headers.get("webhook-timestamp", "")
    signatures = request.headers.get("webhook-signature", "")
    if not (message_id and timestamp and signatures):
        return Refusal(401, "unauthenticated",
                       "Sign the call: webhook-id, webhook-timestamp and webhook-signature.")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return Refusal(401, "unauthenticated", "webhook-timestamp is more than 5 minutes off.")
    key = signing_key(trigger, environment)
    if key is None:
        return Refusal(401, "unauthenticated", "No signing secret is set in this environment.")
    expected = sign(key, message_id, timestamp, body)
    offered = [part.split(",", 1)[1] for part in signatures.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return Refusal(401, "unauthenticated", "The signature does not match the body.")
    if not remember_message(trigger, environment, message_id):
        return Refusal(401, "unauthenticated", "This webhook-id was already delivered.")
    return None


def remember_message(trigger: Trigger, environment: Environment, message_id: str) -> bool:
    """Accept each signed message id once within the tolerance window, in every process and
    whatever happens to Redis (the ids are kept in the database)."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    return trigger_limits.seen_once(f"hook-id:{environment.id}:{trigger.id}:{digest}",
                                    REPLAY_TTL_SECONDS)
