"""The JSON API: one NinjaAPI, routers owned by each app, one error format for every 4xx.

Callers authenticate with a security group's API token (`Authorization: Bearer og_...`) or
with the browser session (CSRF checked). Every error body is
`{"error": {"code": ..., "message": ..., "fields": [{"path": ..., "message": ...}]}}`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from access.api import BearerToken, BrowserSession, error_body

api = NinjaAPI(
    title="OwlGrid API",
    version="1",
    description="Workflows, versions, deployments, runs and logs. See docs/api.md.",
    auth=[BearerToken(), BrowserSession()],
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


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
