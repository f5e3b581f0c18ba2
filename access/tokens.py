"""API tokens of security groups: shown once, stored as SHA-256 hashes, revocable."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from access.models import ApiToken, SecurityGroup

PREFIX = "og_"


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, group: SecurityGroup, name: str, user: Any = None) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored."""
    public = secrets.token_hex(4)
    raw = f"{PREFIX}{public}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        group=group, name=name, prefix=public, token_hash=token_digest(raw),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def token_find(raw: str) -> ApiToken | None:
    """The active token matching a presented secret, its last use recorded."""
    if not raw or not raw.startswith(PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("group")
        .filter(token_hash=token_digest(raw.strip()), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
    return token


def bearer(header: str | None) -> str:
    if header and header.startswith("Bearer "):
        return header[7:].strip()
    return ""
