"""Shared limits for HTTP triggers, kept in Redis so every web process sees the same counts:
per-trigger rate limits, and Idempotency-Key records that make retried deliveries safe."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from runner import queueing

IDEMPOTENCY_TTL = 24 * 3600
IN_FLIGHT_TTL = 120


def redis():
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
    return f"owlgrid:idem:{environment_id}:{trigger_id}:{digest}"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def claim(redis_key: str, body: bytes) -> Claim:
    record = json.dumps({"body": body_hash(body), "state": "in_flight"})
    if redis().set(redis_key, record, nx=True, ex=IN_FLIGHT_TTL):
        return Claim("new")
    stored = redis().get(redis_key)
    if stored is None:  # expired between the two calls: take it
        return claim(redis_key, body)
    data = json.loads(stored)
    if data["body"] != body_hash(body):
        return Claim("mismatch")
    if data["state"] == "in_flight":
        return Claim("conflict")
    return Claim("replay", data["response"])


def remember(redis_key: str, body: bytes, response: dict[str, Any]) -> None:
    record = {"body": body_hash(body), "state": "done", "response": response}
    redis().set(redis_key, json.dumps(record), ex=IDEMPOTENCY_TTL)


def forget(redis_key: str) -> None:
    redis().delete(redis_key)
