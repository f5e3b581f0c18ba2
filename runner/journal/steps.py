"""What an executing run writes step by step, each write fenced by the run's lease.

The fence is what keeps a zombie harmless: every write on behalf of an executing run renews the
lease with `UPDATE ... WHERE id = run AND lease_owner = me` in the write's own transaction. If
that updates no row, another worker took the run over: `LeaseLost` is raised, the transaction
is rolled back, and nothing the zombie computed is kept. Live messages go out only on commit.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from runner.journal import postgres, transactions
from runner.journal.records import (
    LeaseLost,
    announce,
    checked_writes,
    insert_events,
    insert_lines,
    lease_delta,
)
from runner.models import Run


def with_lease_renewed(columns: dict[str, Any]) -> dict[str, Any]:
    """The run's columns a fenced write sets: `columns` and a lease expiry from now."""
    return {"lease_expires_at": timezone.now() + lease_delta(), **columns}


def fence(run: Run, worker: str, **columns: Any) -> bool:
    """Renew the run's lease, writing `columns` of the run with it; return its cancel flag.
    Raises `LeaseLost` when `worker` no longer holds the lease.

    Call it inside the write's transaction, before the write's other rows. The common case
    (not cancelled) is one UPDATE; only a cancelled run, or a lost lease, costs a second.
    """
    columns = with_lease_renewed(columns)
    if Run.objects.filter(id=run.id, lease_owner=worker, cancel_requested=False).update(**columns):
        return False
    if Run.objects.filter(id=run.id, lease_owner=worker).update(**columns):
        return True
    raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")


def heartbeat(run: Run, worker: str) -> bool:
    """Renew the lease of a run being executed; returns its cancel flag."""
    return fence(run, worker)


def commit(
    run: Run,
    worker: str,
    *,
    events: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    response: dict[str, Any] | None = None,
) -> bool:
    """Write step events and log lines atomically, fenced by the lease; returns the cancel flag.

    Each event dict holds step_key, action_name, action_type, status, previous (the step's
    status before), attempt, and optionally inputs, output and error. Each line holds seq and
    message, optionally step_key and level. `response`: a synchronous caller's answer.
    """
    columns = checked_writes(events, lines, response)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        cancel = postgres.commit(run, worker, with_lease_renewed(columns), events, lines)
    else:
        with transactions.atomic():
            cancel = fence(run, worker, **columns)
            insert_events(run, worker, events)
            insert_lines(run, lines)
    announce(run, lines, response)  # once committed (at once outside a transaction)
    return cancel
