"""Synchronous HTTP-triggered runs executed by the web process that received the call.

A caller waiting for a synchronous answer otherwise pays the queue hop: the commit, the RQ
enqueue, a worker's dequeue and RQ's job bookkeeping, then the claim's own transaction (13 ms of
a 35 ms call on PostgreSQL, docs/performance.md). n8n runs webhook workflows in its main process
for the same reason.

Durability is the workers': the run is leased to this process from its creation
(`journal.create_run(claimed_by=...)`), the engine journals every step and fences every write
with the lease exactly as in a worker, and a heartbeat renews the lease. If this process dies
mid-run, the lease expires and the sweeper queues the run for a worker, which resumes it from
the journal. A run that parks (a wait, an approval, a lock) leaves this process and is resumed
by a worker.

The run's insert goes with the engine's first write (`create_run(defer=True)`): one durable
write fewer per call, ≈ 1 ms on PostgreSQL. That write comes before anything outside the
database can see the run: the engine writes before it starts any step that is not pure data
(an HTTP call, an email, a child run, a wait), and the caller's answer is handed over only once
committed. If this process dies before that write, nothing happened that anyone could see: the
caller's connection drops as it would have a moment earlier. If the engine stops before it
(a bug), the run is inserted as it is and a worker resumes it; if even that fails, the caller
gets a 503 and no run id.

Bounded: at most `OWLGRID_INLINE_RUNS` runs at a time per web process; beyond that, or with 0,
synchronous runs go through the queue as before. The runs execute on daemon threads kept
between runs: a stopping web server never waits for a run (its lease expires and a worker takes
it over), and each thread keeps its database connection (a thread per run opened a new SQLite
connection for every run: 1.2 ms of the caller's wait).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from runner import broadcast, journal
from runner.bindings import Bindings
from runner.engine import Engine
from runner.models import Run, RunStatus

logger = logging.getLogger("owlgrid.runner")
ANSWER_HEADSTART_SECONDS = 0.002
_slots: tuple[int, threading.BoundedSemaphore] | None = None
_slots_lock = threading.Lock()
_SUFFIX = f"web-{uuid.uuid4().hex[:8]}"


def identity() -> str:
    """This web process's lease owner name, shaped like a worker's (host:pid:suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_SUFFIX}"


def _semaphore() -> threading.BoundedSemaphore:
    """The slots, sized by the setting (re-sized when it changes: tests override it)."""
    global _slots
    size = max(settings.OWLGRID_INLINE_RUNS, 1)
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


def reserve() -> threading.BoundedSemaphore | None:
    """Take an execution slot without waiting; None sends the run through the queue.
    The caller hands the slot to `start`, or gives it back with `slot.release()`."""
    if settings.OWLGRID_INLINE_RUNS <= 0:
        return None
    slots = _semaphore()
    return slots if slots.acquire(blocking=False) else None


def start(run: Run, slot: threading.BoundedSemaphore, bindings: Bindings | None = None) -> Future:
    """Execute a run leased to `identity()` on one of the process's run threads, in a reserved
    slot, with its environment's bindings when the caller has them already (else the engine
    loads them).

    The returned future resolves with what a waiting caller needs as soon as it is committed:
    `{"response": ...}` when the run responds, `{"status": ..., "error": ...}` when it ends,
    or None when it leaves this process (parked, lease lost) without either.
    """
    answer: Future = Future()
    if run.status != RunStatus.RUNNING or run.lease_owner != identity():
        slot.release()  # the plan did not compile: the run already ended, nothing to execute
        answer.set_result({"status": run.status, "error": run.error})
        return answer
    broadcast.listen_for_answer(run.id, lambda payload: _hand_over(answer, payload))
    _executors.submit(lambda: _execute(run, answer, slot, bindings))
    return answer


class Executors:
    """Daemon threads that execute inline runs, started as needed and kept for the next run.

    There are never fewer threads than runs submitted and not yet done (the slots bound those),
    so a submitted run starts at once on an idle thread.
    """

    def __init__(self, name: str = "owlgrid-inline") -> None:
        self.name = name
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._busy += 1
            if self._busy > self._threads:
                self._threads += 1
                threading.Thread(target=self._serve, daemon=True,
                                 name=f"{self.name}-{self._threads}").start()
        self._work.put(job)

    def _serve(self) -> None:
        while True:
            job = self._work.get()
            try:
                job()
            finally:
                with self._lock:
                    self._busy -= 1


_executors = Executors()


def _execute(run: Run, answer: Future, slot: threading.BoundedSemaphore,
             bindings: Bindings | None) -> None:
    try:
        Engine(run, identity(), fresh=True, bindings=bindings).execute()
    except Exception:  # noqa: BLE001 - the lease expires and a worker resumes the run
        logger.exception("run %s: inline execution failed; a worker will resume it", run.id)
    finally:
        broadcast.stop_listening_for_answer(run.id)
        _resolve(answer, None if _recorded(run) else NOT_RECORDED)
        release_connection()
        slot.release()


# The answer when a run could not even be written: the caller must not get its id.
NOT_RECORDED = {"status": "failed", "error": {
    "type": "not_recorded", "retryable": True,
    "message": "the run could not be recorded (database unavailable); it was not executed",
}}


def _recorded(run: Run) -> bool:
    """After the engine stopped: make sure a run whose insert waited for its first write is in
    the database (the engine stopped before writing: a worker resumes it once its lease
    expires); False if it could not be written."""
    try:
        journal.record_creation(run)
    except Exception:  # noqa: BLE001 - reported to the caller instead
        logger.exception("run %s: could not be recorded", run.id)
        return False
    return True


def release_connection() -> None:
    """At the end of a web-process thread's work (a trigger call, an inline run): a PostgreSQL
    connection goes back to the process's pool (Django returns a request's connections on
    `request_finished`, in another thread); a SQLite connection stays open for the thread's
    next use unless it broke."""
    if connection.vendor == "postgresql":
        close_old_connections()
    elif connection.errors_occurred and not connection.is_usable():
        connection.close()


def _hand_over(answer: Future, payload: dict[str, Any]) -> None:
    """Give the caller its answer, then let it leave before the run goes on: finishing the run
    is not on the caller's path, and on a small machine the two compete for the interpreter
    (measured: the caller's p50 is 0.4–0.6 ms lower with this head start)."""
    _resolve(answer, payload)
    if payload.get("response") is not None:
        time.sleep(ANSWER_HEADSTART_SECONDS)


def _resolve(answer: Future, payload: dict[str, Any] | None) -> None:
    with contextlib.suppress(InvalidStateError):  # the first word is the answer
        answer.set_result(payload)
