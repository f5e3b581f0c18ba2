"""Retention: finished runs (with their step events and log lines) pruned by age or count.

Only finished runs (completed, failed, cancelled) are ever pruned: a queued, running or waiting
run — an approval that waits for months — stays whatever its age.

Each query is bounded by what it prunes, not by the history kept: workflow by workflow, the
runs that go are the finished ones created before one moment (the later of the age limit and
the creation of the newest run that must stay by count), read off the `run_workflow_recent`
index, `batch_size` at a time. Ranking every finished run with a window function instead would
cost a walk of the whole history for every batch.

Deletion goes in batches, each in its own short transaction, so a large prune neither locks the
tables for long nor builds one huge transaction, and an interrupted prune resumes at the next
call. A run's log lines, the bulk, go first in chunks; then Django's collector removes the step
events and locks and nulls out references (child runs, retries, schedule ticks).

Step events are append-only (`StepEventQuerySet.delete()` raises); the collector deletes them
with a raw DELETE, not through the queryset, so retention needs no exception to that rule.

Space: PostgreSQL's autovacuum makes the freed pages reusable; `reclaim_space()` (the command's
`--vacuum`) runs VACUUM now, which on SQLite also shrinks the file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from runner.models import LogLine, Run, RunStatus
from workflows.models import Workflow

FINISHED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
LOG_CHUNK = 20_000
RUN_TABLES = ["runner_logline", "runner_stepevent", "runner_runlock", "runner_run"]


def _count_cutoff(workflow_id: Any, keep: int) -> datetime | None:
    """When the newest finished run of the workflow that must stay was created: finished runs
    created before it are beyond the newest `keep`; None when the workflow has no more runs
    than it keeps. (Runs created in the same microsecond as that one stay too.)"""
    runs = Run.objects.filter(workflow_id=workflow_id).order_by("-created_at")
    if keep == 0:
        return timezone.now()
    if not runs[keep:keep + 1].exists():  # at most `keep` runs at all: the index alone says so
        return None
    kept = runs.filter(status__in=FINISHED).values_list("created_at", flat=True)
    return next(iter(kept[keep - 1:keep]), None)


def _cutoff(workflow_id: Any, age_cutoff: datetime | None, keep: int | None) -> datetime | None:
    """The later of the two limits: finished runs of the workflow created before it go."""
    count_cutoff = None if keep is None else _count_cutoff(workflow_id, keep)
    limits = [moment for moment in (age_cutoff, count_cutoff) if moment is not None]
    return max(limits, default=None)


def _finished_before(workflow_id: Any, cutoff: datetime) -> QuerySet[Run]:
    """The workflow's finished runs created before `cutoff`: a range of run_workflow_recent,
    unordered so that each batch reads no more of it than it takes."""
    return Run.objects.filter(workflow_id=workflow_id, created_at__lt=cutoff,
                              status__in=FINISHED).order_by()


def _delete_logs(run_ids: list[Any]) -> None:
    """Log lines of these runs, LOG_CHUNK rows per statement, each committed on its own."""
    while True:
        chunk = LogLine.objects.filter(run_id__in=run_ids).values("id")[:LOG_CHUNK]
        deleted, _ = LogLine.objects.filter(id__in=chunk).delete()
        if deleted < LOG_CHUNK:
            return


def _delete_batch(run_ids: list[Any]) -> int:
    _delete_logs(run_ids)
    with transaction.atomic():
        # Re-checked inside the delete (a run cannot be unfinished again, but stay safe), on
        # rows read by id: `status__in` in the same WHERE made SQLite walk the status index.
        rows = Run.objects.filter(id__in=run_ids).values_list("id", "status")
        finished = [run_id for run_id, status in rows if status in FINISHED]
        _, per_model = Run.objects.filter(id__in=finished).delete()
    return per_model.get("runner.Run", 0)


def _prune(candidates: QuerySet[Run], batch_size: int) -> int:
    deleted = 0
    while True:
        batch = list(candidates.values_list("id", flat=True)[:batch_size])
        if not batch:
            return deleted
        removed = _delete_batch(batch)
        if removed == 0:  # nothing could go: stop rather than loop on the same batch
            return deleted
        deleted += removed


def prune_runs(*, older_than_days: int | None = None, keep_per_workflow: int | None = None,
               batch_size: int = 500) -> int:
    """Delete finished runs older than N days and beyond the newest N per workflow.

    Either limit defaults to its setting (`OWLGRID_RETENTION_DAYS`,
    `OWLGRID_RETENTION_PER_WORKFLOW`; None there means no limit). Returns how many runs went.
    """
    if older_than_days is None:
        older_than_days = getattr(settings, "OWLGRID_RETENTION_DAYS", None)
    if keep_per_workflow is None:
        keep_per_workflow = getattr(settings, "OWLGRID_RETENTION_PER_WORKFLOW", None)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    age_cutoff = None
    if older_than_days is not None:
        age_cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    for workflow_id in Workflow.objects.order_by().values_list("id", flat=True):
        cutoff = _cutoff(workflow_id, age_cutoff, keep_per_workflow)
        if cutoff is not None:
            deleted += _prune(_finished_before(workflow_id, cutoff), batch_size)
    return deleted


def reclaim_space() -> None:
    """Return freed pages now rather than at the next autovacuum (outside any transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(RUN_TABLES)}")
        elif connection.vendor == "sqlite":
            cursor.execute("VACUUM")
