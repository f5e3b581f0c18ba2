"""The ASGI handler for trigger calls (`/hooks/...`): Django without the browser middleware.

Under ASGI every synchronous middleware method runs in a thread of its own request context
(sessions, CSRF, authentication, messages, htmx...: about 19 thread hops per request,
docs/performance.md). A trigger call needs none of them: it is authenticated by a token or a
signature, never by a session, and answers JSON. This handler keeps what does matter to it:
Django's request parsing, URL resolution and error handling, `request_finished`, the refusal of
NUL bytes, and the security headers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import set_script_prefix

from owlgrid_site.middleware import nul_refusal

HOOKS_PREFIX = "/hooks/"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class HooksHandler(ASGIHandler):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict, receive: Any, send: Any) -> None:
        """Django's `ASGIHandler.handle` without what a trigger call does not use, each of which
        cost a thread hop or a task per call (A/B on two servers: p50 −0.65 ms): a thread-
        sensitive context (a thread per request for synchronous code: the view is async and
        runs its database work in the pool), `request_started` (it resets the connections of a
        thread that holds none), and a task watching for the client's disconnect (a caller
        that goes away does not stop its run; its answer is dropped when it comes).
        `request_finished` still fires, from `response.close()`."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        response = error_response if request is None else await self.run_get_response(request)
        try:
            await self.send_response(response, send)
        finally:
            body_file.close()
            response.close()

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = convert_exception_to_response(self._get_response_async)

        async def guarded(request: HttpRequest) -> HttpResponse:
            response = nul_refusal(request) or await get_response(request)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        self._middleware_chain = convert_exception_to_response(guarded)


def route_hooks(hooks_app: Any, other_app: Any) -> Any:
    """An ASGI app sending `/hooks/...` to `hooks_app` and every other request to `other_app`."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        target = hooks_app if scope.get("path", "").startswith(HOOKS_PREFIX) else other_app
        await target(scope, receive, send)

    return app
