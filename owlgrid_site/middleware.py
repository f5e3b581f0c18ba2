"""The site's own middleware: NUL bytes refused, HTTP trigger calls sent straight to their view,
and the rest of the chain run synchronously in one thread hop.

Django runs a middleware that is both sync and async capable in the mode of the handler below
it. Under ASGI the innermost handler is async, so every `MiddlewareMixin` middleware (all of
Django's own) runs async and hops to a thread for each `process_request` and
`process_response`: a dozen hops per request (Django ticket #37177). `SyncChain`, sync only and
last in MIDDLEWARE, makes the chain above it synchronous, which Django enters with one hop.
HTTP trigger calls, whose view is async and must hold no thread while a synchronous caller
waits, are dispatched by `HooksFirst`, above that chain, without entering it.

Public APIs only: the middleware protocol's `sync_capable` / `async_capable` flags
(docs/topics/http/middleware, "Asynchronous support") and `django.urls.resolve()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

HOOKS_PREFIX = "/hooks/"
GUARDED_PREFIXES = ("/api/", HOOKS_PREFIX)


class HooksFirst:
    """Async only: a request under /hooks/ is resolved and its view called here; the session,
    CSRF, authentication and message middleware below have nothing to do for a trigger call
    (its caller proves itself with a token or a signature, checked by the view)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(HOOKS_PREFIX):
            return await self.get_response(request)
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return await self.get_response(request)
        request.resolver_match = match
        view = match.func
        if iscoroutinefunction(view):
            response = await view(request, *match.args, **match.kwargs)
        else:
            response = await sync_to_async(view)(request, *match.args, **match.kwargs)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


class SyncChain:
    """Sync only, and last in MIDDLEWARE: the middleware above it run synchronously, entered
    with one thread hop rather than one per middleware under ASGI."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class RefuseNulBytes:
    """Sync and async capable (Django's middleware protocol): first in MIDDLEWARE, it runs in
    the server's mode and guards hooks and the API alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return nul_refusal(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        # The body is in memory already (Django's ASGI handler reads it first): no I/O here.
        return nul_refusal(request) or await self.get_response(request)


def nul_refusal(request: HttpRequest) -> HttpResponse | None:
    """The 400 answer for a machine-facing request holding a NUL byte, else None; the 413
    answer, in JSON too, for a body larger than Django accepts in memory, whatever its
    headers said."""
    if not request.path.startswith(GUARDED_PREFIXES):
        return None
    try:
        refused = holds_nul(request)
    except RequestDataTooBig:
        return JsonResponse({"error": {"code": "too_large",
                                       "message": "The body is larger than "
                                                  f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                                       "fields": []}}, status=413)
    if refused:
        return JsonResponse({"error": {"code": "invalid_request",
                                       "message": "NUL characters are not accepted.",
                                       "fields": []}}, status=400)
    return None


def holds_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if request.content_type == "application/json":
        body = request.body
        return b"\x00" in body or b"\\u0000" in body
    return False
