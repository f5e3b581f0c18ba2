"""The JSON API: one NinjaAPI, routers owned by each app, one error format for every 4xx.

Callers authenticate with a security group's API token (`Authorization: Bearer og_...`) or
with the browser session (CSRF checked). Every error body is
`{"error": {"code": ..., "message": ..., "fields": [{"path": ..., "message": ...}]}}`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.params.models import File as FileSource
from ninja.params.models import Form as FormSource
from ninja.security import APIKeyHeader, SessionAuth
from ninja.signature.details import ViewSignature


def share_response_models() -> None:
    """Build the model that wraps a response type once, however many operations and status
    codes declare that type.

    django-ninja wraps each status code's response type, for each operation, in a new pydantic
    model (`NinjaResponseSchema`, one field: `response`), each with its own validator and
    serializer. With the error codes every operation declares, the API built 270 of them, of
    which 24 differ: ≈ 3.5 MB resident in the web process (docs/performance.md). Two built from
    the same type validate, serialize and document the same way, and ninja keeps no state in
    them. Call before any router's operations are declared.
    """
    create = Operation._create_response_model
    if getattr(create, "shares_models", False):
        return
    built: dict[Any, Any] = {}

    @functools.wraps(create)
    def create_once(self: Operation, response_param: Any) -> Any:
        try:
            return built[response_param]
        except KeyError:
            model = built[response_param] = create(self, response_param)
            return model
        except TypeError:  # an unhashable declaration: built each time, as ninja does
            return create(self, response_param)

    create_once.shares_models = True  # type: ignore[attr-defined]
    Operation._create_response_model = create_once  # type: ignore[method-assign]


def share_parameter_models() -> None:
    """Build the model that reads a kind of parameter once for every operation that declares
    the same parameters of that kind.

    django-ninja builds, for each operation, one pydantic model per kind of parameter it takes
    (`PathParams`, `QueryParams`, `BodyParams`), each with its own validator and serializer.
    Most operations take the same path parameters (13 take `name: str` alone): the API built
    60 such models, of which 30 differ (≈ 0.3 MB resident). A model is built from its
    parameters' names, aliases, sources and annotations alone, and ninja keeps no state in it.
    Multipart bodies (files, forms) are built from several kinds together, as ninja does.
    Call before any router's operations are declared.
    """
    create = ViewSignature._create_models
    if getattr(create, "shares_models", False):
        return
    built: dict[tuple, Any] = {}

    def model_for(signature: ViewSignature, params: list) -> Any:
        part = copy.copy(signature)
        part.params = params
        return create(part)[0]

    def shared_model_for(signature: ViewSignature, params: list) -> Any:
        try:
            key = tuple(_parameter_key(param) for param in params)
            hash(key)
        except TypeError:  # an unhashable annotation: built each time, as ninja does
            return model_for(signature, params)
        if key not in built:
            built[key] = model_for(signature, params)
        return built[key]

    @functools.wraps(create)
    def create_once(self: ViewSignature) -> Any:
        by_source: dict[type, list] = {}
        for param in self.params:
            by_source.setdefault(type(param.source), []).append(param)
        if (hasattr(self.view_func, "_ninja_contribute_args")
                or FileSource in by_source or FormSource in by_source):
            return create(self)
        return [shared_model_for(self, params) for params in by_source.values()]

    create_once.shares_models = True  # type: ignore[attr-defined]
    ViewSignature._create_models = create_once  # type: ignore[method-assign]


def _parameter_key(param: Any) -> tuple:
    """What ninja builds a parameter's field from. Both the annotation and its `repr`: equal
    unions compare equal whatever their order (`int | float == float | int`), which pydantic
    tries in order. The source's `repr` (a pydantic FieldInfo) lists every setting it was
    given (default, alias, constraints, schema extras) but names a default factory and a
    title generator only by their `__name__`, so those are compared themselves."""
    source = param.source
    return (param.name, param.alias, type(source), repr(source),
            getattr(source, "default_factory", None),
            getattr(source, "field_title_generator", None),
            param.annotation, repr(param.annotation), param.is_collection)


share_response_models()
share_parameter_models()


class BearerToken(APIKeyHeader):
    """`Authorization: Bearer <token>`; the principal is the token's security group."""

    param_name = "Authorization"
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        from environments.tokens import bearer, token_find

        token = token_find(bearer(key))
        if token is None:
            return None
        request.api_token = token  # type: ignore[attr-defined]
        return token.group


class BrowserSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api = NinjaAPI(
    title="OwlGrid API",
    version="1",
    description="Workflows, versions, deployments, runs and logs. See docs/api.md.",
    auth=[BearerToken(), BrowserSession()],
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


class ErrorDetail(Schema):
    code: str
    message: str
    fields: list[dict[str, str]]


class ErrorOut(Schema):
    error: ErrorDetail


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def error_body(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def conflict(exc: DjangoValidationError) -> Any:
    """A write refused because of the state of things (deployed, in use), as a 409 body."""
    from ninja.responses import Status

    return Status(409, error_body("conflict", " ".join(exc.messages)))


def _respond(request: HttpRequest, status: int, body: dict) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(NinjaValidationError)
def on_invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = [
        {
            "path": ".".join(str(p) for p in error.get("loc", [])[1:]) or "body",
            "message": error.get("msg", "invalid"),
        }
        for error in exc.errors
    ]
    return _respond(request, 422, error_body("invalid_request", "The request is invalid.", fields))


@api.exception_handler(DjangoValidationError)
def on_invalid_data(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        fields = [
            {"path": name, "message": " ".join(m for e in errors for m in e.messages)}
            for name, errors in exc.error_dict.items()
        ]
        return _respond(request, 400, error_body("invalid", "Some fields are invalid.", fields))
    return _respond(request, 400, error_body("invalid", " ".join(exc.messages)))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _respond(
        request, 401, error_body("unauthenticated", "Give a valid API token or log in.")
    )
    response["WWW-Authenticate"] = 'Bearer realm="owlgrid"'
    return response


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _respond(request, 403, error_body("forbidden", str(exc) or "Not allowed."))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, error_body("not_found", str(exc) or "Not found."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _respond(request, exc.status_code, error_body("error", str(exc)))


def principal_user(request: HttpRequest) -> Any:
    """The acting user for services, or None for an API token (its group was checked)."""
    from environments.models import SecurityGroup

    return None if isinstance(request.auth, SecurityGroup) else request.auth


def register_routers() -> None:
    from environments.api import router as environments_router
    from environments.groups_api import router as groups_router
    from runner.api import router as runs_router
    from workflows.api import router as workflows_router

    api.add_router("/", workflows_router)
    api.add_router("/", runs_router)
    api.add_router("/", environments_router)
    api.add_router("/", groups_router)


register_routers()
