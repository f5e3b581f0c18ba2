"""Workflow definitions: workflows, their versions, triggers and action trees; the record store."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from workflows.triggers import REGISTRY as TRIGGER_TYPES
from workflows.triggers import trigger_choices

workflow_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$",
    "Use 1 to 63 lowercase letters, digits or '-', starting with a letter or digit.",
)
# Names that are also URL segments under /workflows/: a workflow so named would be shadowed.
RESERVED_WORKFLOW_NAMES = frozenset({"new", "import"})


def reserved_name_validator(value: str) -> None:
    if value in RESERVED_WORKFLOW_NAMES:
        raise ValidationError(f"{value!r} is reserved (it is a page of the workflow list); "
                              "choose another name.")


step_name_validator = RegexValidator(
    r"^[a-z_][a-z0-9_]{0,62}$",
    "Use 1 to 63 lowercase letters, digits or '_', not starting with a digit.",
)


class PublishedVersionError(ValidationError):
    """Raised when something tries to change a published (immutable) version."""


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=63, unique=True, validators=[workflow_name_validator])
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    perimeters = models.ManyToManyField(
        "access.SecurityGroup", related_name="workflows", blank=True
    )
    concurrency_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most runs of this workflow at once; empty for no limit."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    test_sample = models.JSONField(
        default=dict, blank=True, help_text="The editor's sample input for test runs."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(concurrency_limit__isnull=True) | Q(concurrency_limit__gte=1),
                name="workflow_concurrency_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """A numbered version; the draft is editable, a published version never changes again."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.TextField(blank=True)
    requires = models.JSONField(
        default=dict, blank=True, help_text="Declared variables and connections, by name."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workflow__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_unique_number"),
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(status="draft"),
                name="version_one_draft_per_workflow",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            models.CheckConstraint(
                condition=Q(status="draft", published_at__isnull=True)
                | Q(status="published", published_at__isnull=False),
                name="version_published_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name} v{self.number} ({self.status})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Immutability is a rule about this one row: once published in the database, never again.
        if not self._state.adding and self._stored_status() == self.Status.PUBLISHED:
            raise PublishedVersionError(f"{self} is published and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self._stored_status() == self.Status.PUBLISHED:
            raise PublishedVersionError(f"{self} is published and cannot be deleted.")
        return super().delete(*args, **kwargs)

    def _stored_status(self) -> str | None:
        return (
            WorkflowVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        )

    def ensure_editable(self) -> None:
        if self.is_published:
            raise PublishedVersionError(f"{self} is published and cannot be changed.")


class _DraftOnlyChild(models.Model):
    """Rows that belong to a version may change only while that version is a draft."""

    version: WorkflowVersion  # each child declares its own foreign key

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.version.ensure_editable()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.version.ensure_editable()
        return super().delete(*args, **kwargs)


class Trigger(_DraftOnlyChild):
    """How the world starts a version; its type is one of `workflows.triggers.REGISTRY`."""

    # One member per registered type (Trigger.Type.HTTP == "http"), built with the enum's
    # functional API from the registry: a (value, label) pair is read as Django's class syntax
    # reads `HTTP = "http", "HTTP call"`.
    Type = models.TextChoices(  # type: ignore[call-overload]  # stubs know the class syntax only
        "Type", [(value.upper(), (value, label)) for value, label in trigger_choices()],
        module=__name__, qualname="Trigger.Type")

    class Access(models.TextChoices):
        GROUP = "group", "Security group"
        HMAC = "hmac", "HMAC signature"
        PUBLIC = "public", "Public"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="triggers")
    name = models.CharField(max_length=63, validators=[step_name_validator])
    type = models.CharField(max_length=10, choices=Type.choices)
    settings = models.JSONField(default=dict, blank=True)
    access = models.CharField(max_length=10, choices=Access.choices, default=Access.GROUP)
    access_group = models.ForeignKey(
        "access.SecurityGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="triggers",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="trigger_unique_name"),
            models.CheckConstraint(
                condition=Q(type__in=list(TRIGGER_TYPES)),
                name="trigger_known_type",
            ),
            models.CheckConstraint(
                condition=~Q(access="group") | Q(access_group__isnull=False),
                name="trigger_group_access_names_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}: {self.type} {self.name}"


class Action(_DraftOnlyChild):
    """One node of a version's action tree: its type, inputs, error policy and place in the tree.

    `slot` names the parent's branch that holds it (`then`, `else`, `body`, `try`, `catch`, a
    switch case or a parallel branch name); root actions have no parent and an empty slot.
    `name` is unique in the version and is how later steps read its output
    (`steps.<name>.output`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="actions")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    slot = models.CharField(max_length=64, blank=True)
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    name = models.CharField(max_length=63, validators=[step_name_validator])
    description = models.TextField(blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    retry = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    continue_on_error = models.BooleanField(default=False)
    revert = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["version", "parent_id", "slot", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="action_unique_name"),
            models.UniqueConstraint(
                fields=["version", "parent", "slot", "position"],
                name="action_unique_place",
            ),
            models.UniqueConstraint(
                fields=["version", "position"],
                condition=Q(parent__isnull=True),
                name="action_unique_root_place",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=False) | Q(slot=""), name="action_root_has_no_slot"
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(slot=""), name="action_child_has_slot"
            ),
            models.CheckConstraint(condition=~Q(type=""), name="action_has_type"),
            models.CheckConstraint(
                condition=Q(timeout_seconds__isnull=True) | Q(timeout_seconds__gt=0),
                name="action_timeout_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class Collection(models.Model):
    """A named set of records in one environment: OwlGrid's own data store."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="collections"
    )
    name = models.CharField(max_length=63, validators=[workflow_name_validator])
    schema = models.JSONField(null=True, blank=True, help_text="Optional JSON Schema of records.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment__position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="collection_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.environment.name}:{self.name}"


class Record(models.Model):
    """One JSON document in a collection; writes can trigger workflows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="records")
    key = models.CharField(max_length=200, null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["collection", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "key"], name="record_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.collection.name}/{self.key or self.id}"
