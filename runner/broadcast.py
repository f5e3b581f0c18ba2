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
    """One event loop thread per process that sends queued messages to the channel layer."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Also run in a forked child: the parent's thread and a lock it held are not there."""
        self.lock = threading.Lock()
        self.pid = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue | None = None
        self.pending = 0

    def submit(self, group: str, message: dict[str, Any]) -> threading.Event:
        """Queue a message; the returned event is set once it has been handed to Redis."""
        done = threading.Event()
        loop, queue = self._started()
        with self.lock:
            if self.pending >= QUEUE_LIMIT:
                logger.warning("live broadcast queue full; dropping a message to %s", group)
                done.set()
                return done
            self.pending += 1
        loop.call_soon_threadsafe(queue.put_nowait, (group, message, done))
        return done

    def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait (a bounded time) until every queued message has been handed to Redis."""
        deadline = time.monotonic() + timeout
        while self.pid == os.getpid() and self.pending and time.monotonic() < deadline:
            time.sleep(0.005)

    def _started(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self.lock:
            # After a fork (RQ's forking Worker, its scheduler) the thread is not there anymore.
            if self.loop is None or self.pid != os.getpid():
                self.pid = os.getpid()
                self.pending = 0
                self.loop = asyncio.new_event_loop()
                self.queue = asyncio.Queue()
                ready = threading.Event()
                threading.Thread(target=self._run, args=(self.loop, self.queue, ready),
                                 name="owlgrid-broadcast", daemon=True).start()
                ready.wait()
            return self.loop, self.queue

    def _run(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue,
             ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(self._forward(queue))

    async def _forward(self, queue: asyncio.Queue) -> None:
        from channels.layers import get_channel_layer

        while True:
            group, message, done = await queue.get()
            try:
                layer = get_channel_layer()
                if layer is not None:
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
            sent = _send(run_group(run_id),
                         {"type": "log.lines", "lines": payload[start : start + BATCH]})
        # Back-pressure: a run logging in a tight loop waits (about 1 ms, at most 0.1 s) for its
        # lines to reach Redis before writing more, instead of taking the CPU that Daphne and
        # the viewers need to deliver them on a small machine, and letting a backlog build up.
        # A step that logs a line or two does not wait: that would only delay the run.
        if sent is not None and (len(payload) >= BACKPRESSURE_LINES
                                 or _sender.pending > BACKPRESSURE_MESSAGES):
            sent.wait(LOG_SEND_WAIT_SECONDS)

    transaction.on_commit(send)


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
        import django_rq

        try:
            pipe = django_rq.get_connection("default").pipeline(transaction=False)
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
