"""The journal: the storage facade, the only code that writes runs, step events, log lines, locks
and approvals. The engine and the rest of `runner` call what is listed here.

The contract:
- `create_run`: insert a queued run (its job is queued on commit);
- `claim_run` / `claim`: take a free lease of a run that has something to do, once;
- `commit`: write a step's events and log lines, fenced by the lease (`LeaseLost`);
- `park`: release the executor, the run waiting for a deadline or a wake-up;
- `finish`: end the run with its last step's writes, free its locks, wake its waiters;
- `request_cancel`: cancel a queued or waiting run now, a running one at its next write;
- locks, concurrency slots and approval decisions (`locks`, `approvals`).

Every write on behalf of an executing run is fenced by its lease, and jobs are queued and live
messages sent only once the write has committed. One path serves SQLite and PostgreSQL: the
ORM's `update`, `bulk_create`, `save` and `transaction.atomic`.
"""

from runner.journal.approvals import record_decision
from runner.journal.claims import RESUMED, SCHEDULER_PRECISION, claim, claim_run
from runner.journal.lifecycle import (
    already_due,
    cancelled_error,
    fail_without_lease,
    finish,
    park,
    request_cancel,
)
from runner.journal.locks import (
    concurrency_blocked,
    release_lock,
    take_concurrency_slot,
    try_acquire_lock,
)
from runner.journal.records import RUN_KEY, LeaseLost, event_like, lease_delta
from runner.journal.runs import (
    copy_completed_steps,
    create_run,
    requeue,
    wake,
    wake_first_waiter,
)
from runner.journal.steps import commit, heartbeat
from runner.models import Run

__all__ = [
    "RESUMED",
    "RUN_KEY",
    "SCHEDULER_PRECISION",
    "LeaseLost",
    "Run",
    "already_due",
    "cancelled_error",
    "claim",
    "claim_run",
    "commit",
    "concurrency_blocked",
    "copy_completed_steps",
    "create_run",
    "event_like",
    "fail_without_lease",
    "finish",
    "heartbeat",
    "lease_delta",
    "park",
    "record_decision",
    "release_lock",
    "request_cancel",
    "requeue",
    "take_concurrency_slot",
    "try_acquire_lock",
    "wake",
    "wake_first_waiter",
]
