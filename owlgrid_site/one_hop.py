"""The ASGI handler for pages and the JSON API: Django's middleware chain and the view run in one
thread hop per request.

Django builds its middleware chain for the server it runs under. Under ASGI the chain is
asynchronous, so every synchronous method of a `MiddlewareMixin` (sessions, CSRF,
authentication, messages, clickjacking) runs through `sync_to_async`, and a synchronous-only
middleware switches the chain back and forth: 12 thread hops for a `GET /login/`, 2–3 ms of
CPU per request (docs/performance.md, "Eighth round"). OwlGrid's middleware and views are all
synchronous, so this handler builds the chain as Django's WSGI handler does and calls it, view
included, in one hop to the request's thread. Everything `ASGIHandler.handle` does around the
chain is unchanged: the request's thread-sensitive context (its own thread, so a slow request
does not hold up others), the request signals, disconnects and streaming responses. An
asynchronous view would still work: Django's synchronous path runs it with `async_to_sync`.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
