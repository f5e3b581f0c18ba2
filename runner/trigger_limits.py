"""Shared limits for HTTP triggers: per-trigger rate limits in Redis (every web process sees
the same counts), and the keys that make retried deliveries safe (Idempotency-Key records,
signed webhooks' message ids) in the database, where losing Redis cannot replay them."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from redis import Redis

from runner import queueing
from runner.models import DeliveryKey

IDEMPOTENCY_TTL = 24 * 3600
IN_FLIGHT_TTL = 120


def redis() -> Redis:
    return queueing.redis_connection()


def rate_limited(trigger_id: Any, environment_id: Any, per_minute: int | None) -> int | None:
    """Seconds to wait when the trigger's budget for this minute is spent, else None."""
    if not per_minute:
        return None
    window = int(time.time() // 60)
    key = f"owlgrid:rate:{environment_id}:{trigger_id}:{window}"
    pipe = redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count = pipe.execute()[0]
    if count > per_minute:
        return max(1, 60 - int(time.time() % 60))
    return None


@dataclass
class Claim:
    """The outcome of presenting an Idempotency-Key."""

    state: str  # "new", "replay", "conflict" (409), "mismatch" (422)
    response: dict[str, Any] | None = None


def idempotency_key(trigger_id: Any, environment_id: Any, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"idem:{environment_id}:{trigger_id}:{digest}"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def claim(key: str, body: bytes) -> Claim:
    """Take `key` for this call, or say why not: the same body answered before (replay), still
    being handled (conflict), or another body (mismatch)."""
    now = timezone.now()
    DeliveryKey.objects.filter(key=key, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            DeliveryKey.objects.create(key=key, body_hash=body_hash(body), state="in_flight",
                                       expires_at=now + timedelta(seconds=IN_FLIGHT_TTL))
        return Claim("new")
    except IntegrityError:
        record = DeliveryKey.objects.filter(key=key).first()
    if record is None:  # expired and pruned meanwhile: take it
        return claim(key, body)
    if record.body_hash != body_hash(body):
        return Claim("mismatch")
    if record.state == "in_flight":
        return Claim("conflict")
    return Claim("replay", record.response)


def remember(key: str, body: bytes, response: dict[str, Any]) -> None:
    DeliveryKey.objects.filter(key=key).update(
        state="done", response=response,
        expires_at=timezone.now() + timedelta(seconds=IDEMPOTENCY_TTL))


def forget(key: str) -> None:
    DeliveryKey.objects.filter(key=key).delete()


def seen_once(key: str, ttl_seconds: int) -> bool:
    """True the first time `key` is presented within `ttl_seconds`, False after."""
    now = timezone.now()
    DeliveryKey.objects.filter(key=key, expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            DeliveryKey.objects.create(key=key, state="done",
                                       expires_at=now + timedelta(seconds=ttl_seconds))
    except IntegrityError:
        return False
    return True


def prune_expired() -> int:
    return DeliveryKey.objects.filter(expires_at__lt=timezone.now()).delete()[0]
