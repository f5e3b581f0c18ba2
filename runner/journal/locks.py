"""Named locks (the `lock` block) and workflows' concurrency limits.

Both are first come, first served: a run that waited longer gets the lock or the slot first,
and each release wakes the next waiter. A run keeps its locks while parked and loses them
with its end (`release_run_locks`, in the finishing transaction).
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import Q

from runner.journal import transactions
from runner.journal.runs import wake_first_waiter
from runner.models import Run, RunLock, RunStatus
from workflows.actions.lock import LockAction


def try_acquire_lock(run: Run, name: str, step_key: str) -> bool:
    """Take a named lock unless another run holds it or has waited for it longer (FIFO)."""
    held = RunLock.objects.filter(name=name).values_list("run_id", flat=True).first()
    if held is not None:
        return held == run.id
    waiters = Run.objects.filter(status=RunStatus.WAITING, status_reason=f"lock:{name}").exclude(
        id=run.id
    )
    if run.waiting_since is not None:
        waiters = waiters.filter(waiting_since__lt=run.waiting_since)
    if waiters.exists():
        return False
    try:
        with transactions.atomic():
            RunLock.objects.create(name=name, run=run, step_key=step_key)
            Run.objects.filter(id=run.id).update(waiting_since=None)
    except IntegrityError:  # another run took it between the check and the insert
        return False
    run.waiting_since = None
    return True


def release_lock(run: Run, name: str) -> None:
    """Release a lock the run holds and wake the run that has waited longest for it."""
    with transactions.atomic():
        if RunLock.objects.filter(name=name, run=run).delete()[0]:
            wake_first_waiter(reason=f"lock:{name}")


def release_run_locks(run: Run) -> list[str]:
    """Delete every lock the run holds and return their names (at its end)."""
    if not may_hold_locks(run):
        return []
    names = list(RunLock.objects.filter(run_id=run.id).values_list("name", flat=True))
    if names:
        RunLock.objects.filter(run_id=run.id, name__in=names).delete()
    return names


def may_hold_locks(run: Run) -> bool:
    """Only a `lock` block takes a named lock: a run whose plan has none never holds one, and
    its end need not look for any."""
    actions = (run.plan or {}).get("actions", {}).values()
    return any(action.get("type") == LockAction.name for action in actions)


def lock_is_free_for(run: Run, name: str) -> bool:
    """Whether nobody holds the lock and no run has waited for it longer than `run`."""
    return not RunLock.objects.filter(name=name).exists() and not (
        Run.objects.filter(
            status=RunStatus.WAITING, status_reason=f"lock:{name}",
            waiting_since__lt=run.waiting_since,
        ).exclude(id=run.id).exists()
    )


def take_concurrency_slot(run: Run) -> bool:
    """Whether the run may start under its workflow's concurrency limit, oldest run first."""
    if not run.workflow.concurrency_limit or run.holds_slot:
        return True
    with transactions.atomic():
        # Serialise starters of one workflow; on SQLite the IMMEDIATE transaction already does.
        type(run.workflow).objects.select_for_update().filter(id=run.workflow_id).first()
        if concurrency_blocked(run):
            return False
        Run.objects.filter(id=run.id).update(holds_slot=True)
    run.holds_slot = True
    return True


def concurrency_blocked(run: Run) -> bool:
    """Every slot is taken, or an older run of the workflow has not had its turn yet."""
    limit = run.workflow.concurrency_limit
    if not limit:
        return False
    same_workflow = Run.objects.filter(workflow_id=run.workflow_id)
    if same_workflow.filter(holds_slot=True).count() >= limit:
        return True
    older_pending = same_workflow.filter(
        Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        | Q(status=RunStatus.WAITING, status_reason="concurrency"),
        holds_slot=False,
        created_at__lt=run.created_at,
    ).exclude(id=run.id)
    return older_pending.exists()
