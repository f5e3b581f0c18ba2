"""One thread per process renews the leases of the runs the process is executing.

A run's lease says "this process is executing it"; a run whose lease is not renewed within
`OWLGRID_LEASE_SECONDS` is taken over by another worker. One daemon thread per process, rather
than a heartbeat thread per run, keeps thread starts off the path of every run (most runs end
before their first renewal). It renews every registered run's lease once a third of the lease
time has passed since its last renewal, and tells the engine when the run was cancelled or the
lease lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol

from django.conf import settings
from django.db import connections

from runner import journal

logger = logging.getLogger("owlgrid.runner")
TICK_SECONDS = 0.25
CANCEL_CHECK_SECONDS = 1.0


class Leased(Protocol):
    run: journal.Run
    worker: str
    cancel: bool
    lost: threading.Event


class LeaseKeeper:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.renewed: dict[int, tuple[Leased, float]] = {}
        self.pid = 0

    def keep(self, engine: Leased) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use, or a forked child: no thread here yet
                self.pid = os.getpid()
                self.renewed = {}
                threading.Thread(target=self._loop, name="owlgrid-leases", daemon=True).start()
            self.renewed[id(engine)] = (engine, time.monotonic())

    def release(self, engine: Leased) -> None:
        with self.lock:
            self.renewed.pop(id(engine), None)

    def _loop(self) -> None:
        next_cancel_check = 0.0
        while True:
            time.sleep(TICK_SECONDS)
            try:
                used_database = self._renew_due()
                if time.monotonic() >= next_cancel_check:
                    used_database += self._notice_cancels()
                    next_cancel_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if used_database:
                    connections.close_all()  # a pooled connection goes back to the pool
            except Exception:  # noqa: BLE001 - the keeper must outlive a database hiccup
                logger.warning("renewing leases failed; retrying", exc_info=True)

    def _notice_cancels(self) -> int:
        """Tell the engines whose runs someone asked to cancel: a step spinning in an
        expression stops at its next check, not at the next lease renewal."""
        with self.lock:
            engines = {engine.run.pk: engine for engine, _ in self.renewed.values()
                       if not engine.cancel}
        if not engines:
            return 0
        cancelled = journal.Run.objects.filter(pk__in=list(engines), cancel_requested=True)
        for run_id in cancelled.values_list("pk", flat=True):
            engines[run_id].cancel = True
        return 1

    def _renew_due(self) -> int:
        interval = max(1.0, settings.OWLGRID_LEASE_SECONDS / 3)
        now = time.monotonic()
        with self.lock:
            due = [engine for engine, at in self.renewed.values() if now - at >= interval]
        for engine in due:
            self._renew(engine)
        return len(due)

    def _renew(self, engine: Leased) -> None:
        try:
            if journal.heartbeat(engine.run, engine.worker):
                engine.cancel = True
        except journal.LeaseLost:
            engine.lost.set()
            self.release(engine)
            return
        with self.lock:
            if id(engine) in self.renewed:
                self.renewed[id(engine)] = (engine, time.monotonic())


keeper = LeaseKeeper()
