"""The ASGI handler for trigger calls (`/hooks/...`): Django without the browser middleware.

Under ASGI every synchronous middleware method runs in a thread of its own request context
(sessions, CSRF, authentication, messages, htmx...: about 19 thread hops per request,
docs/performance.md). A trigger call needs none of them: it is authenticated by a token or a
signature, never by a session, and answers JSON. This handler keeps what does matter to it:
Django's request parsing, URL resolution and error handling, the request signals (database
connections are returned after each call), the refusal of NUL bytes, and the security headers.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse

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
        # Django runs each request in a ThreadSensitiveContext, which starts a thread per request
        # for its synchronous parts. The trigger view is async and runs its database work in
        # the thread pool; what is left (the request signals) shares one thread.
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

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
