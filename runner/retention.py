"""Retention: finished runs (with their step events and log lines) pruned by age or count.

Runs that are queued, running or waiting are never pruned. Deletion goes in batches, each in its
own transaction, so a large prune neither locks the tables for long nor holds a huge transaction;
on PostgreSQL, autovacuum then returns the space (SQLite: `VACUUM` after a large prune).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from runner.models import Run, RunStatus

FINISHED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]


def prune_candidates(*, older_than_days: int | None, keep_per_workflow: int | None) -> list:
    finished = Run.objects.filter(status__in=FINISHED)
    ids: set = set()
    if older_than_days is not None:
        cutoff = timezone.now() - timedelta(days=older_than_days)
        ids |= set(finished.filter(created_at__lt=cutoff).values_list("id", flat=True))
    if keep_per_workflow is not None:
        ranked = finished.annotate(rank=Window(
            expression=RowNumber(), partition_by="workflow_id", order_by="-created_at",
        )).values_list("id", "rank")
        ids |= {run_id for run_id, rank in ranked if rank > keep_per_workflow}
    return list(ids)


def prune_runs(*, older_than_days: int | None = None, keep_per_workflow: int | None = None,
               batch_size: int = 500) -> int:
    """Delete finished runs older than N days and/or beyond the newest N per workflow."""
    older_than_days = older_than_days if older_than_days is not None else getattr(
        settings, "OWLGRID_RETENTION_DAYS", None)
    keep_per_workflow = keep_per_workflow if keep_per_workflow is not None else getattr(
        settings, "OWLGRID_RETENTION_PER_WORKFLOW", None)
    if older_than_days is None and keep_per_workflow is None:
        return 0
    ids = prune_candidates(older_than_days=older_than_days, keep_per_workflow=keep_per_workflow)
    deleted = 0
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            batch = ids[start:start + batch_size]
            # Runs pointing at a pruned run (its retries, its children) keep existing.
            Run.objects.filter(retry_of_id__in=batch).update(retry_of=None)
            Run.objects.filter(parent_run_id__in=batch).update(parent_run=None)
            deleted += Run.objects.filter(id__in=batch, status__in=FINISHED).delete()[1].get(
                "runner.Run", 0)
    return deleted
