"""What every app's part of the JSON API shares: how callers authenticate, who the principal
is, and the one error format of every 4xx,
`{"error": {"code": ..., "message": ..., "fields": [{"path": ..., "message": ...}]}}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Schema
from ninja.responses import Status
from ninja.security import APIKeyHeader, SessionAuth

from access.models import ApiToken, SecurityGroup
from access.tokens import bearer, token_find

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ApiRequest(HttpRequest):
    """A request as an authenticated endpoint sees it: django-ninja sets `auth` to what the
    authenticator returned, a token's security group or a session's user; `BearerToken` also
    keeps the token as `api_token` (absent for a session)."""

    auth: SecurityGroup | User
    api_token: ApiToken


class BearerToken(APIKeyHeader):
    """`Authorization: Bearer <token>`; the principal is the token's security group."""

    param_name = "Authorization"
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, key: str | None) -> SecurityGroup | None:
        token = token_find(bearer(key))
        if token is None:
            return None
        # ninja passes the plain request; from here on it is an ApiRequest with a token.
        cast(ApiRequest, request).api_token = token
        return token.group


class BrowserSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user: User | None = super().authenticate(request, key)  # request.user, if logged in
        return user if user is not None and user.is_active else None


class ErrorDetail(Schema):
    code: str
    message: str
    fields: list[dict[str, str]]


class ErrorOut(Schema):
    error: ErrorDetail


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def conflict(exc: DjangoValidationError) -> Status[dict[str, Any]]:
    """A write refused because of the state of things (deployed, in use), as a 409 body."""
    return Status(409, error_body("conflict", " ".join(exc.messages)))


def principal_user(request: ApiRequest) -> User | None:
    """The acting user for services, or None for an API token (its group was checked)."""
    return None if isinstance(request.auth, SecurityGroup) else request.auth


def principal_label(request: ApiRequest) -> str:
    """Who is acting, as recorded and shown: a user's name, or an API token's name and group."""
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"API token {token.name} ({token.group.name})"
    username = "" if isinstance(request.auth, SecurityGroup) else request.auth.username
    return username or "an API caller"
