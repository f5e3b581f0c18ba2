"""Live messages for websocket viewers, sent after commit (the database stays the record).

Messages go through one long-lived event loop per process (a daemon thread), in order, without
making the caller wait: `async_to_sync(layer.group_send)` from a worker would start a thread, an
event loop and a new Redis connection for every message, which both slowed the engine and
delayed live log lines. A message that cannot be sent is dropped with a
warning: viewers catch up from the database on reconnect and on their periodic reconciliation.
A message to a group no viewer has marked watched (`mark_watched`) is not sent at all: most
runs are watched by nobody, and the channel layer's send is the costliest part of a status.

Synchronous HTTP triggers are woken through a per-run Redis list (`answer_key`): the worker
pushes the committed response (or the run's end) to it after commit, and the waiting web request
BLPOPs it; the database is read only when nothing came.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import json
import logging
import os
import threading
import time
import weakref
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

logger = logging.getLogger("owlgrid.runner")
BATCH = 500
QUEUE_LIMIT = 10_000  # messages waiting for Redis; beyond that viewers catch up from the database
DRAIN_SECONDS = 2.0  # at exit, how long to wait for queued messages
LOG_SEND_WAIT_SECONDS = 0.1  # bound on the back-pressure wait (Redis slow or away)
BACKPRESSURE_LINES = 100  # a batch this large means the run is logging in a tight loop
BACKPRESSURE_MESSAGES = 20  # so does a backlog this long (a run's own status messages are 2)
ANSWER_TTL_SECONDS = 120  # longer than the longest synchronous wait (60 s)


def run_group(run_id: Any) -> str:
    return f"run-{run_id}"


RUNS_GROUP = "runs"
# A viewer marks its group watched when it joins and every few seconds after (the consumers'
# recheck); a group whose mark has expired has nobody to send to, and nothing is sent.
WATCH_TTL_SECONDS = 30
_LOOP_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncRedis] = (
    weakref.WeakKeyDictionary())


def loop_redis() -> AsyncRedis:
    """One asyncio Redis client per event loop (a client is bound to the loop it started on)."""
    loop = asyncio.get_running_loop()
    client = _LOOP_CLIENTS.get(loop)
    if client is None:
        client = AsyncRedis.from_url(settings.REDIS_URL)
        _LOOP_CLIENTS[loop] = client
    return client


def watch_key(group: str) -> str:
    return f"owlgrid:watched:{group}"


async def mark_watched(group: str) -> None:
    """Say that a viewer listens to `group` (for WATCH_TTL_SECONDS)."""
    try:
        await loop_redis().set(watch_key(group), 1, ex=WATCH_TTL_SECONDS)
    except RedisError:
        logger.warning("could not mark %s as watched", group, exc_info=True)


async def watched(groups: list[str]) -> set[str]:
    """Which of `groups` a viewer listens to; all of them when Redis cannot say."""
    try:
        marks = await loop_redis().mget([watch_key(group) for group in groups])
    except RedisError:
        return set(groups)
    return {group for group, mark in zip(groups, marks, strict=True) if mark is not None}


def answer_key(run_id: Any) -> str:
    return f"owlgrid:answer:{run_id}"


class _Sender:
    """One event loop thread per process that sends queued messages to the channel layer.

    Callers append to a deque and the loop is woken once per batch, not once per message, so a
    run that logs in a loop does not hand the interpreter back and forth for every line.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Also run in a forked child: the parent's thread and a lock it held are not there."""
        self.lock = threading.Lock()
        self.pid = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.items: collections.deque[tuple[str, dict[str, Any], threading.Event]] = (
            collections.deque())
        self.pending = 0
        self.awake = False

    def submit(self, group: str, message: dict[str, Any]) -> threading.Event:
        """Queue a message; the returned event is set once it has been handed to Redis."""
        done = threading.Event()
        loop, wake = self._started()
        with self.lock:
            if self.pending >= QUEUE_LIMIT:
                logger.warning("live broadcast queue full; dropping a message to %s", group)
                done.set()
                return done
            self.pending += 1
            self.items.append((group, message, done))
            if self.awake:
                return done
            self.awake = True
        loop.call_soon_threadsafe(wake.set)
        return done

    def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait (a bounded time) until every queued message has been handed to Redis."""
        deadline = time.monotonic() + timeout
        while self.pid == os.getpid() and self.pending and time.monotonic() < deadline:
            time.sleep(0.005)

    def _started(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        with self.lock:
            # After a fork (RQ's forking Worker, its scheduler) the thread is not there anymore.
            if self.loop is None or self.pid != os.getpid():
                self.pid = os.getpid()
                self.pending = 0
                self.items.clear()
                self.awake = False
                self.loop = asyncio.new_event_loop()
                self.wake = asyncio.Event()
                ready = threading.Event()
                threading.Thread(target=self._run, args=(self.loop, self.wake, ready),
                                 name="owlgrid-broadcast", daemon=True).start()
                ready.wait()
            assert self.wake is not None
            return self.loop, self.wake

    def _run(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event,
             ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(self._forward(wake))

    async def _forward(self, wake: asyncio.Event) -> None:
        from channels.layers import get_channel_layer

        while True:
            await wake.wait()
            wake.clear()
            while True:
                with self.lock:
                    batch = list(self.items)
                    self.items.clear()
                    if not batch:
                        self.awake = False
                        break
                await self._send_batch(get_channel_layer(), batch)

    async def _send_batch(self, layer: Any,
                          batch: list[tuple[str, dict[str, Any], threading.Event]]) -> None:
        listened = await watched(sorted({group for group, _, _ in batch}))
        for group, message, done in batch:
            try:
                if layer is not None and group in listened:
                    await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - viewers catch up from the database on reconnect
                logger.warning("live broadcast to %s failed", group, exc_info=True)
            finally:
                with self.lock:
                    self.pending -= 1
                done.set()


_sender = _Sender()
atexit.register(_sender.drain)
os.register_at_fork(after_in_child=_sender.reset)


def _send(group: str, message: dict[str, Any]) -> threading.Event:
    return _sender.submit(group, message)


def log_lines_on_commit(run_id: Any, lines: list[dict[str, Any]]) -> None:
    payload = [
        {
            "seq": line["seq"],
            "step": line.get("step_key", ""),
            "level": line.get("level", "info"),
            "message": line["message"],
        }
        for line in lines
    ]

    def send() -> None:
        committed_at = time.time()  # when the lines became durable; viewers may measure from it
        for line in payload:
            line["committed_at"] = committed_at
        sent = None
        for start in range(0, len(payload), BATCH):
            sent = _send(run_group(run_id), log_lines_message(payload[start : start + BATCH]))
        # Back-pressure: a run logging in a tight loop waits (at most LOG_SEND_WAIT_SECONDS) for its
        # lines to reach Redis before writing more, instead of taking the CPU that Daphne and
        # the viewers need to deliver them on a small machine, and letting a backlog build up.
        # A step that logs a line or two does not wait: that would only delay the run.
        if sent is not None and (len(payload) >= BACKPRESSURE_LINES
                                 or _sender.pending > BACKPRESSURE_MESSAGES):
            sent.wait(LOG_SEND_WAIT_SECONDS)

    transaction.on_commit(send)


def log_lines_message(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The live message for a batch of numbered lines: the websocket frame viewers get, encoded
    once here rather than once per viewer, with the batch's first and last numbers, which is all
    a consumer needs to forward it as it is."""
    return {"type": "log.lines", "first": lines[0]["seq"], "last": lines[-1]["seq"],
            # `default=str`: this runs after the commit, where nothing may raise.
            "frame": json.dumps({"type": "lines", "lines": lines}, default=str)}


def run_status_on_commit(run: Any) -> None:
    message = {"type": "run.status", "run": str(run.id), "status": run.status}

    def send() -> None:
        _send(run_group(run.id), message)
        _send(RUNS_GROUP, message)

    transaction.on_commit(send)


def run_answer_on_commit(run_id: Any, answer: dict[str, Any]) -> None:
    """Wake a synchronous HTTP trigger waiting for this run, handing it what was just committed:
    `{"response": ...}` (the `respond` action answered) or `{"status": ..., "error": ...}` (the
    run ended). A list rather than pub/sub, so that a push made before the caller starts
    waiting is not lost; a caller that gets nothing re-reads the database.
    """
    payload = json.dumps(answer, cls=DjangoJSONEncoder)

    def send() -> None:
        from runner import queueing

        try:
            pipe = queueing.redis_connection().pipeline(transaction=False)
            pipe.rpush(answer_key(run_id), payload)
            pipe.expire(answer_key(run_id), ANSWER_TTL_SECONDS)
            pipe.execute()
        except Exception:  # noqa: BLE001 - the caller also re-reads the database periodically
            logger.warning("could not wake the caller of run %s", run_id, exc_info=True)

    transaction.on_commit(send)
