"""Retention: finished runs (with their step events and log lines) pruned by age or count.

Only finished runs (completed, failed, cancelled) are ever pruned: a queued, running or waiting
run — an approval that waits for months — stays whatever its age.

Deletion goes in batches, each in its own short transaction, so a large prune neither locks
the tables for long nor builds one huge transaction (or WAL burst) — and an interrupted prune
just resumes at the next call. A run's log lines, by far the bulk, go first in chunks of
LOG_CHUNK rows; then `Run.objects.filter(id__in=batch).delete()` lets Django's collector
remove the step events, locks, and null out references (child runs, retries, schedule ticks).

Step events are append-only: `StepEventQuerySet.delete()` raises on purpose. The collector
does not call it — it fast-deletes them with a raw DELETE — so retention needs no exception to
that rule. (Should the collector ever go through the queryset, retention is the one place
allowed to bypass it with `DELETE FROM runner_stepevent WHERE run_id IN (...)`.)

Space: PostgreSQL's autovacuum makes the freed pages reusable; `reclaim_space()` (the command's
`--vacuum`) runs VACUUM now, which on SQLite also shrinks the file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from runner.models import LogLine, Run, RunStatus

FINISHED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
LOG_CHUNK = 20_000
RUN_TABLES = ["runner_logline", "runner_stepevent", "runner_runlock", "runner_run"]


def _older_than(days: int) -> QuerySet[Run]:
    cutoff = timezone.now() - timedelta(days=days)
    return Run.objects.filter(status__in=FINISHED, created_at__lt=cutoff)


def _beyond_newest(keep: int) -> QuerySet[Run]:
    """Finished runs past the newest `keep` finished runs of their workflow."""
    ranked = Run.objects.filter(status__in=FINISHED).annotate(rank=Window(
        expression=RowNumber(), partition_by="workflow_id", order_by=["-created_at", "-id"],
    ))
    return ranked.filter(rank__gt=keep)


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
        # Re-checked inside the delete: a run cannot be unfinished again, but stay safe.
        _, per_model = Run.objects.filter(id__in=run_ids, status__in=FINISHED).delete()
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
    deleted = 0
    if older_than_days is not None:
        deleted += _prune(_older_than(older_than_days), batch_size)
    if keep_per_workflow is not None:
        deleted += _prune(_beyond_newest(keep_per_workflow), batch_size)
    return deleted


def reclaim_space() -> None:
    """Return freed pages now rather than at the next autovacuum (outside any transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(RUN_TABLES)}")
        elif connection.vendor == "sqlite":
            cursor.execute("VACUUM")
