"""Execution records: runs, their append-only step events and numbered log lines.

Only `runner.journal` writes these tables; everything else reads them.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete a step event."""


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class StepStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    RETRYING = "retrying", "Retrying"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"
    REVERTED = "reverted", "Reverted"


class Run(models.Model):
    """One execution of a pinned workflow version in an environment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="runs"
    )
    version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.RESTRICT, related_name="runs"
    )
    environment = models.ForeignKey(
        "environments.Environment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    trigger = models.ForeignKey(
        "workflows.Trigger", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    trigger_type = models.CharField(max_length=10)
    trigger_input = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    status_reason = models.CharField(max_length=200, blank=True)
    plan = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    depth = models.PositiveIntegerField(default=0)
    is_test = models.BooleanField(default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    cancel_requested = models.BooleanField(default=False)
    cancel_requested_by = models.CharField(max_length=200, blank=True)  # who asked, as shown
    # How many executors died holding this run (its lease expired while it ran).
    executor_deaths = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    holds_slot = models.BooleanField(default=False)
    next_log_seq = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "wake_at"], name="run_status_wake"),
            models.Index(fields=["status", "lease_expires_at"], name="run_status_lease"),
            models.Index(fields=["workflow", "-created_at"], name="run_workflow_recent"),
            # A workflow's runs in one status, oldest first: the first waiter for a concurrency
            # slot, a workflow's pending runs, retention's finished runs before a date. Without
            # it SQLite (no statistics) walks run_workflow_recent through the workflow's whole
            # history for each.
            models.Index(fields=["workflow", "status", "created_at"], name="run_workflow_status"),
            # The runs holding a concurrency slot: a handful per workflow, counted at each start.
            models.Index(fields=["workflow"], condition=Q(holds_slot=True),
                         name="run_slot_holders"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["queued", "running", "waiting", "completed", "failed", "cancelled"]
                ),
                name="run_known_status",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["completed", "failed", "cancelled"])
                | Q(finished_at__isnull=False),
                name="run_finished_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.id} of {self.workflow.name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}


class StepEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Step events are append-only: they cannot be updated.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Step events are append-only: they cannot be deleted.")


class StepEvent(models.Model):
    """One change of a step's state; the step's state is its latest event."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_events")
    step_key = models.CharField(max_length=500)
    action_name = models.CharField(max_length=63)
    action_type = models.CharField(max_length=32)
    status = models.CharField(max_length=12, choices=StepStatus.choices)
    attempt = models.PositiveIntegerField(default=1)
    inputs = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StepEventQuerySet.as_manager()

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "step_key", "id"], name="stepevent_run_step")]

    def __str__(self) -> str:
        return f"{self.step_key} {self.status} (attempt {self.attempt})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:  # ids come from the database: a row with one was saved before
            raise AppendOnlyError("Step events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Step events are append-only: they cannot be deleted.")


class LogLine(models.Model):
    """A numbered line of a run's log; `seq` is gapless per run so readers can detect loss."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    seq = models.PositiveBigIntegerField()
    step_key = models.CharField(max_length=500, blank=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="logline_unique_seq"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="logline_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} [{self.level}] {self.message[:60]}"


class DeliveryKey(models.Model):
    """A key an HTTP trigger has seen: an Idempotency-Key (with the answer it got) or a signed
    webhook's message id. Kept in the database, so that losing Redis replays nothing."""

    key = models.CharField(max_length=200, primary_key=True)
    body_hash = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, default="in_flight")  # or "done"
    response = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class RunLock(models.Model):
    """A named lock held by one run (the `lock` block); released with the run's lease."""

    name = models.CharField(max_length=255, primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="locks")
    step_key = models.CharField(max_length=500)
    acquired_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.run_id}"


class ScheduleTick(models.Model):
    """One fired tick of a schedule trigger in an environment: the row makes it exactly once."""

    trigger = models.ForeignKey("workflows.Trigger", on_delete=models.CASCADE, related_name="ticks")
    environment = models.ForeignKey("environments.Environment", on_delete=models.CASCADE,
                                    related_name="+")
    tick_at = models.DateTimeField()
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trigger", "environment", "tick_at"],
                                    name="scheduletick_once"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} at {self.tick_at}"
