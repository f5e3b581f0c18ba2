"""Deferred run creation: a synchronous HTTP run executed in the web process (runner/inline.py)
is inserted by its executor's first write, in the same transaction as its first steps.

The run is leased to its executor from the start, so no one else can write it before that
write; until then it exists only in the executor's memory, as a call still being handled does.
The engine writes before any step that is not pure data and before the caller gets an answer,
so nothing outside the database has seen the run when it is inserted. The executor's lease
fence (`steps.fence`) makes the insert: the insert stands in for the fence's UPDATE.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from django.db import transaction
from django.utils import timezone

from runner import broadcast
from runner.journal.records import creation_events, lease_delta, set_fields
from runner.models import Run, StepEvent


class Creation:
    """A run's insert waiting for its executor's first write. `written`: the insert is made
    (perhaps in a transaction not committed yet); `recorded`: it is committed; `settled`:
    recorded, or given up (the insert failed)."""

    def __init__(self, executor: str) -> None:
        self.executor = executor
        self.written = False
        self.recorded = False
        self.settled = threading.Event()

    def record(self) -> None:
        """The transaction that inserted the run committed."""
        self.recorded = True
        self.settled.set()


# Keyed by the run instance the executor holds; an entry goes with its instance.
_deferred: weakref.WeakKeyDictionary[Run, Creation] = weakref.WeakKeyDictionary()


def defer(run: Run, executor: str) -> None:
    """Leave the insert of `run`, leased to `executor`, to that executor's first write."""
    _deferred[run] = Creation(executor)


def creation_of(run: Run) -> Creation | None:
    """The run's deferred creation, if it was created that way."""
    return _deferred.get(run)


def creation_pending(run: Run) -> bool:
    """Whether the run's insert is still to be written by its executor."""
    creation = creation_of(run)
    return creation is not None and not creation.written


def unrecorded(run: Run) -> bool:
    """Whether the run was deferred and its insert is not committed yet (no lease to renew)."""
    creation = creation_of(run)
    return creation is not None and not creation.recorded


def write(run: Run, columns: dict[str, Any]) -> None:
    """Insert the deferred run with `columns` set and a fresh lease, then its first events, in
    the caller's transaction; the creation is recorded when that transaction commits."""
    creation = _deferred[run]
    set_fields(run, {"lease_expires_at": timezone.now() + lease_delta(), **columns})
    run.save(force_insert=True)
    StepEvent.objects.bulk_create(creation_events(run, creation.executor))
    creation.written = True
    transaction.on_commit(creation.record)
    broadcast.run_status_on_commit(run)


def wait_until_recorded(run: Run, timeout: float) -> bool:
    """For a caller about to hand out the run's id: wait for its deferred insert's commit;
    False if it did not come (the insert failed, or not in time)."""
    creation = creation_of(run)
    return creation is None or (creation.settled.wait(timeout) and creation.recorded)


def record_creation(run: Run) -> None:
    """Insert a deferred run now, as it is, unless it is in the database already (its executor
    stopped early: a worker resumes it once the lease expires). If this fails too, whoever
    waits for the insert is told so."""
    creation = creation_of(run)
    if creation is None or creation.recorded:
        return
    try:
        if Run.objects.filter(id=run.id).exists():  # written by a transaction that committed
            creation.record()
            return
        creation.written = False  # the transaction that wrote it was rolled back
        with transaction.atomic():
            write(run, {})
    except BaseException:
        creation.settled.set()
        raise
