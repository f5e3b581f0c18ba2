"""Refuse NUL bytes in machine-facing requests: no database stores them, so a request that holds
one would otherwise fail deep inside with a 500 instead of a clear 400."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

GUARDED_PREFIXES = ("/api/", "/hooks/")


class RefuseNulBytes:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return nul_refusal(request) or self.get_response(request)


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
