"""Environments, their variables and connections, deployments and promotions."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from access.models import slug_validator

variable_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
    "Use letters, digits and '_', not starting with a digit (e.g. API_BASE).",
)


class Environment(models.Model):
    """One link of the promotion chain (dev → staging → prod by default), ordered by position."""

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    label = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(unique=True)
    # The groups whose members may deploy and promote here (the table was created from the
    # other side, as SecurityGroup.deploy_environments, which stays the reverse name).
    deployer_groups = models.ManyToManyField(
        "access.SecurityGroup", related_name="deploy_environments", blank=True,
        db_table="environments_securitygroup_deploy_environments",
    )
    # Budgets of every expression render of runs here; empty: the site's defaults
    # (OWLGRID_EXPRESSION_TIME_LIMIT_MS, OWLGRID_EXPRESSION_SIZE_LIMIT).
    expression_time_limit_ms = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(10), MaxValueValidator(60_000)])
    expression_size_limit = models.PositiveIntegerField(
        null=True, blank=True,
        validators=[MinValueValidator(1_000), MaxValueValidator(50_000_000)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.label or self.name

    def next_in_chain(self) -> Environment | None:
        return Environment.objects.filter(position__gt=self.position).order_by("position").first()

    def previous_in_chain(self) -> Environment | None:
        return Environment.objects.filter(position__lt=self.position).order_by("-position").first()


class Variable(models.Model):
    """A named value bound in one environment; a secret one is stored encrypted only."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=128, validators=[variable_name_validator])
    is_secret = models.BooleanField(default=False)
    value = models.TextField(blank=True)
    encrypted_value = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment__position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="variable_unique_name"),
            models.CheckConstraint(
                condition=Q(is_secret=False, encrypted_value="") | Q(is_secret=True, value=""),
                name="variable_secret_only_encrypted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment.name}:{self.name}"


class Connection(models.Model):
    """A named external resource (HTTP API, SMTP server, Slack) bound in one environment."""

    class Kind(models.TextChoices):
        HTTP = "http", "HTTP API"
        SMTP = "smtp", "SMTP server"
        SLACK = "slack", "Slack"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="connections"
    )
    name = models.CharField(max_length=63, validators=[slug_validator])
    kind = models.CharField(max_length=10, choices=Kind.choices)
    config = models.JSONField(default=dict, blank=True)
    encrypted_secrets = models.TextField(blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.TextField(blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment__position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="connection_unique_name"),
            models.CheckConstraint(
                condition=Q(kind__in=["http", "smtp", "slack"]), name="connection_known_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment.name}:{self.name}"


class Deployment(models.Model):
    """Which published version of a workflow is live in which environment."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="deployments"
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.RESTRICT, related_name="deployments"
    )
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    deployed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow__name", "environment__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "environment"], name="deployment_one_per_environment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name}@{self.environment.name} = v{self.version.number}"


class PromotionRecord(models.Model):
    """The audit trail of every deploy, promotion and rollback, with the checks that ran."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        PROMOTE = "promote", "Promote"
        ROLLBACK = "rollback", "Rollback"

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="promotions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="promotions")
    version = models.ForeignKey(
        "workflows.WorkflowVersion", on_delete=models.RESTRICT, related_name="+"
    )
    previous_version = models.ForeignKey(
        "workflows.WorkflowVersion",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    checks = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.workflow.name} → {self.target.name}"
