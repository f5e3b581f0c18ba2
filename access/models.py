"""Security groups (users and API tokens sharing rights) and their tokens.

Both tables were created by the environments app and keep their names.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,62}$",
    "Use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class SecurityGroup(models.Model):
    """Users and API tokens sharing rights: perimeters, trigger access, deploys, approvals."""

    name = models.CharField(max_length=63, unique=True, validators=[slug_validator])
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="security_groups", blank=True
    )
    can_view = models.BooleanField(default=True)
    can_edit = models.BooleanField(default=False)
    can_run = models.BooleanField(default=False)
    can_approve = models.BooleanField(default=False)
    can_call_triggers = models.BooleanField(default=False)
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        db_table = "environments_securitygroup"  # where it was created

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token of a security group; only its SHA-256 hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(SecurityGroup, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        db_table = "environments_apitoken"  # where it was created
        constraints = [
            models.CheckConstraint(
                condition=Q(token_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106 - a pattern
                name="token_hash_is_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group.name}:{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
