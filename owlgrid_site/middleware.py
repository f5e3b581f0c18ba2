"""Refuse NUL bytes in machine-facing requests: no database stores them, so a request that holds
one would otherwise fail deep inside with a 500 instead of a clear 400."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

GUARDED_PREFIXES = ("/api/", "/hooks/")


class RefuseNulBytes:
    """Sync and async capable (Django's middleware protocol): a sync-only middleware in the
    chain would make every request, pages and hooks alike, cross threads at this point."""

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
