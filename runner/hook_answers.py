"""The answer to an HTTP trigger's caller: 202 with the run's status URL, or, for a synchronous
trigger, the run's `respond` (or its end) awaited without holding a thread.

The run's worker pushes its answer to a Redis list after commit, and the database, the record,
is re-read every RECHECK_SECONDS whatever happens. Past the trigger's timeout the caller gets
202 with the run's status URL; the run goes on in its worker, and can be cancelled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from redis.exceptions import RedisError

from runner import broadcast, trigger_limits
from runner.models import Run
from runner.run_status import status_url

RECHECK_SECONDS = 1.0


class ResponseRow(TypedDict):
    """What the database holds of a run's answer."""

    response: dict[str, Any] | None
    status: str
    error: dict[str, Any] | None


@dataclass
class Pending:
    """A started run whose answer is still to come (sync mode), awaited without a thread."""

    run: Run
    timeout: float
    redis_key: str | None
    body: bytes


def finish(answer: dict[str, Any], redis_key: str | None, body: bytes) -> HttpResponse:
    if redis_key:
        trigger_limits.remember(redis_key, body, answer)
    return as_http(answer)


async def answer_when_ready(pending: Pending) -> HttpResponse:
    if pending.run.status in {"failed", "cancelled", "completed"}:  # e.g. a plan that failed
        row = await sync_to_async(_response_row, thread_sensitive=True)(pending.run.id)
        answer = answer_from(pending.run.id, row)
    else:
        answer = await wait_for_response(pending.run.id, pending.timeout)
    answer = answer or accepted(pending.run)
    if pending.redis_key is None:
        return as_http(answer)  # nothing to remember: no thread hop
    return await sync_to_async(finish, thread_sensitive=True)(
        answer, pending.redis_key, pending.body
    )


def accepted(run: Run) -> dict[str, Any]:
    url = status_url(run)  # signed: computed once for the header and the body
    return {"status": 202, "headers": {"Location": url},
            "body": {"run_id": str(run.id), "status": run.status, "status_url": url}}


async def wait_for_response(run_id: Any, timeout: float) -> dict[str, Any] | None:
    """Wait for the worker's push on the run's answer key. A pushed response (already committed)
    is the answer; anything else (the run ended without responding, a lost push) sends us to
    the database, the record, which is also re-read every RECHECK_SECONDS whatever happens."""
    deadline = time.monotonic() + timeout
    read = sync_to_async(_response_row, thread_sensitive=True)
    key = broadcast.answer_key(run_id)
    while True:
        left = deadline - time.monotonic()
        if left > 0:
            pushed = await _wait_for_push(key, min(left, RECHECK_SECONDS))
            response: dict[str, Any] | None = (pushed or {}).get("response")
            if response is not None:
                return response
        answer = answer_from(run_id, await read(run_id))
        if answer is not None or time.monotonic() >= deadline:
            return answer


async def _wait_for_push(key: str, seconds: float) -> dict[str, Any] | None:
    try:
        # Never 0: BLPOP's 0 means "forever".
        # redis-py types a command's reply as awaitable or not; the asyncio client's is awaitable.
        popped = await cast("Awaitable[list[bytes] | None]",
                            broadcast.loop_redis().blpop([key], timeout=max(seconds, 0.01)))
    except RedisError:
        await asyncio.sleep(seconds)
        return None
    if popped is None:
        return None
    try:
        pushed = json.loads(popped[1])
    except ValueError:
        return None
    return pushed if isinstance(pushed, dict) else None


def answer_from(run_id: Any, row: ResponseRow | None) -> dict[str, Any] | None:
    if row and row["response"] is not None:
        return row["response"]
    if row and row["status"] in {"failed", "cancelled"}:
        return {"status": 502, "headers": {},
                "body": {"run_id": str(run_id), "status": row["status"], "error": row["error"]}}
    if row and row["status"] == "completed":
        return {"status": 200, "headers": {},
                "body": {"run_id": str(run_id), "status": "completed"}}
    return None


def _response_row(run_id: Any) -> ResponseRow | None:
    return Run.objects.filter(id=run_id).values("response", "status", "error").first()


def as_http(answer: dict[str, Any], *, replayed: bool = False) -> HttpResponse:
    body = answer.get("body")
    if isinstance(body, str):
        response = HttpResponse(body, status=answer["status"],
                                content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(json.dumps(body), status=answer["status"],
                                content_type="application/json")
    for name, value in (answer.get("headers") or {}).items():
        if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
            response[name] = value
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
