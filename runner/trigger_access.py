"""Who may call an HTTP trigger: a security group's token, an HMAC signature, or anyone.

Signatures follow Standard Webhooks and are checked by its reference library: base64 of
HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{raw body}") sent as
`webhook-signature: v1,<sig>`, within five minutes of the timestamp. Each id is accepted once
(kept in the database, so Redis losing its data changes nothing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.http import HttpRequest
from standardwebhooks import Webhook, WebhookVerificationError

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


def signing_key(trigger: Trigger, environment: Environment) -> str | bytes | None:
    """The trigger's signing secret: a `whsec_…` value as it is (base64 inside, the Standard
    Webhooks form), any other text as its bytes."""
    from environments import secrets

    name = (trigger.settings or {}).get("hmac_secret_variable", "")
    variable = Variable.objects.filter(environment=environment, name=name).first()
    if variable is None:
        return None
    value = secrets.decrypt(variable.encrypted_value) if variable.is_secret else variable.value
    return value if value.startswith("whsec_") else value.encode()


def check_signature(request: HttpRequest, trigger: Trigger, environment: Environment,
                    body: bytes) -> Refusal | None:
    """Verified by the reference library (`standardwebhooks`); then each message id is
    accepted once."""
    message_id = request.headers.get("webhook-id", "")
    if not (message_id and request.headers.get("webhook-timestamp")
            and request.headers.get("webhook-signature")):
        return Refusal(401, "unauthenticated",
                       "Sign the call: webhook-id, webhook-timestamp and webhook-signature.")
    key = signing_key(trigger, environment)
    if not key:
        return Refusal(401, "unauthenticated", "No signing secret is set in this environment.")
    try:
        Webhook(key).verify(body, dict(request.headers))
    except json.JSONDecodeError:
        pass  # the signature matched; the library then reads the body as JSON, which it needn't be
    except WebhookVerificationError as refused:
        return Refusal(401, "unauthenticated", f"The webhook signature was refused: {refused}.")
    except (ValueError, RuntimeError):  # a malformed signature header or key, a non-UTF-8 body
        return Refusal(401, "unauthenticated",
                       "The webhook signature was refused: malformed webhook-signature "
                       "(expected v1,<base64>) or a body that is not UTF-8.")
    if not remember_message(trigger, environment, message_id):
        return Refusal(401, "unauthenticated", "This webhook-id was already delivered.")
    return None


def remember_message(trigger: Trigger, environment: Environment, message_id: str) -> bool:
    """Accept each signed message id once within the tolerance window, in every process and
    whatever happens to Redis (the ids are kept in the database)."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    return trigger_limits.seen_once(f"hook-id:{environment.id}:{trigger.id}:{digest}",
                                    REPLAY_TTL_SECONDS)
