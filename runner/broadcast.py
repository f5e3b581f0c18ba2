"""Live messages for websocket viewers, sent after commit (the database stays the record).

Messages go through one long-lived event loop per process (a daemon thread), in order, without
making the caller wait: `async_to_sync(layer.group_send)` from a worker would start a thread, an
event loop and a new Redis connection for every message (about 2 ms each, measured), which both
slowed the engine and delayed live log lines. A message that cannot be sent is dropped with a
warning: viewers catch up from the database on reconnect and on their periodic reconciliation.

Synchronous HTTP triggers are woken through a per-run Redis list (`answer_key`): the worker
pushes the committed response (or the run's end) to it after commit, and the waiting web request
BLPOPs it; the database is read only when nothing came. When the run executes in the web process
where its caller waits (runner/inline.py), the answer is handed over in-process instead.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger("owlgrid.runner")
BATCH = 500
QUEUE_LIMIT = 10_000  # messages waiting for Redis; beyond that viewers catch up from the database
DRAIN_SECONDS = 2.0  # at exit, how long to wait for queued messages
LOG_SEND_WAIT_SECONDS = 0.1  # bound on the back-pressure wait (Redis slow or away)
BACKPRESSURE_LINES = 100  # a batch this large means the run is logging in a tight loop
BACKPRESSURE_MESSAGES = 20  # so does a backlog this long (a run's own status messages are 2)
ANSWER_TTL_SECONDS = 120  # longer than the longest synchronous wait (60 s)
WATCHED_MEMORY_SECONDS = 2.0  # a group seen with members is sent to without asking again


FERNET_MODULE = "cryptography.fernet"


def import_layer_backends() -> None:
    """Import the channel layers' backends at start-up, without cryptography unless a layer
    encrypts. Call before the process starts other threads.

    channels_redis imports cryptography's Fernet for its optional message encryption
    (`symmetric_encryption_keys`), so the first live message loaded cryptography's Rust bindings
    (≈ 6 MB resident) into every web process and worker. OwlGrid's layers do not encrypt: unless
    one is configured to, the backends are imported with `cryptography.fernet` marked absent
    (channels_redis then takes cryptography as not installed, and would refuse encryption
    asked for later with an error), and the mark is lifted right after, for OwlGrid's own
    secrets (environments/secrets.py import it on their first use).
    """
    from django.conf import settings
    from django.utils.module_loading import import_string

    layers = getattr(settings, "CHANNEL_LAYERS", {})
    encrypts = any(layer.get("CONFIG", {}).get("symmetric_encryption_keys")
                   for layer in layers.values())
    hide = not encrypts and FERNET_MODULE not in sys.modules
    if hide:
        sys.modules[FERNET_MODULE] = None  # type: ignore[assignment] - makes its import fail
    try:
        for layer in layers.values():
            import_string(layer["BACKEND"])
    finally:
        if hide:
            del sys.modules[FERNET_MODULE]


def run_group(run_id: Any) -> str:
    return f"run-{run_id}"


RUNS_GROUP = "runs"


def answer_key(run_id: Any) -> str:
    return f"owlgrid:answer:{run_id}"


class _Sender:
    """One event loop thread per process that sends queued messages to the channel layer.

    Callers append to a deque; the loop is woken once per batch, not once per message (each
    wake-up is a write to the loop's self-pipe and a hand-over of the interpreter between two
    threads, ≈ 0.1 ms on this machine, and a run sends five messages). A batch costs one Redis
    round trip when nobody watches: the groups' members are read together, and only groups
    that have members get the channel layer's `group_send`. A group seen with members in the
    last seconds is not asked again (a live log's batches follow each other): `group_send`
    reads the members itself, so a viewer that left meanwhile costs nothing but that read.
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
        self.watched_until: dict[str, float] = {}

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
        watched = await self._watched(layer, {group for group, _, _ in batch})
        for group, message, done in batch:
            try:
                if layer is not None and (watched is None or group in watched):
                    await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - viewers catch up from the database on reconnect
                logger.warning("live broadcast to %s failed", group, exc_info=True)
            finally:
                with self.lock:
                    self.pending -= 1
                done.set()

    async def _watched(self, layer: Any, groups: set[str]) -> set[str] | None:
        now = time.monotonic()
        known = {group for group in groups if self.watched_until.get(group, 0.0) > now}
        if known == groups:
            return known
        try:
            found = await watched_groups(layer, groups - known)
        except Exception:  # noqa: BLE001 - send to every group, as if each had members
            logger.warning("could not read live broadcast groups", exc_info=True)
            return None
        if found is None:
            return None
        if len(self.watched_until) > QUEUE_LIMIT:
            self.watched_until.clear()
        for group in found:
            self.watched_until[group] = now + WATCHED_MEMORY_SECONDS
        return known | found


async def watched_groups(layer: Any, groups: set[str]) -> set[str] | None:
    """The groups that have members, read with one pipelined round trip per Redis server
    (channels_redis's `group_send` makes two round trips per message to learn the same); None
    when the layer is not channels_redis's, whose `group_send` is then used for every group."""
    from channels_redis.core import RedisChannelLayer  # imported at start: import_layer_backends

    if not isinstance(layer, RedisChannelLayer):
        return None
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    watched: set[str] = set()
    expired_before = int(time.time()) - layer.group_expiry
    for index, names in by_connection.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group in names:
            key = layer._group_key(group)  # noqa: SLF001 - the layer's own key scheme
            pipe.zremrangebyscore(key, min=0, max=expired_before)
            pipe.zcard(key)
        replies = await pipe.execute()
        watched.update(group for group, count in zip(names, replies[1::2], strict=True) if count)
    return watched


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
        # Back-pressure: a run logging in a tight loop waits (about 1 ms, at most 0.1 s) for its
        # lines to reach Redis before writing more, instead of taking the CPU that Daphne and
        # the viewers need to deliver them on a small machine, and letting a backlog build up.
        # A step that logs a line or two does not wait: that would only delay the run.
        if sent is not None and (len(payload) >= BACKPRESSURE_LINES
                                 or _sender.pending > BACKPRESSURE_MESSAGES):
            sent.wait(LOG_SEND_WAIT_SECONDS)

    transaction.on_commit(send)


def log_lines_message(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The live message for a batch of numbered lines: the websocket frame that viewers get,
    encoded once here, with the batch's first and last numbers, which is all a consumer needs
    to forward it as it is. Encoded by each viewer's consumer instead, a burst cost the web
    process a JSON encoding per batch and per viewer (a fifth of Daphne's CPU during a burst,
    on the core it shares with Redis and the viewers: docs/performance.md, "Fifth round"),
    and the channel layer packed and unpacked 250 dictionaries rather than one string."""
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
    listener = _answer_listeners.get(str(run_id))
    if listener is not None:  # the caller waits in this process (runner/inline.py)
        transaction.on_commit(lambda: listener(answer))
        return
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


_answer_listeners: dict[str, Any] = {}


def listen_for_answer(run_id: Any, callback: Any) -> None:
    """Hand this run's answers to `callback` in-process instead of pushing them to Redis: the
    run executes in the process where its synchronous caller waits."""
    _answer_listeners[str(run_id)] = callback


def stop_listening_for_answer(run_id: Any) -> None:
    _answer_listeners.pop(str(run_id), None)
