"""Login with a brake: repeated failures for one address or one username are refused for a while.

Counters live in the cache (Redis), so every web process shares them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def failure_keys(request: HttpRequest) -> list[str]:
    username = (request.POST.get("username") or "").lower()[:150]
    return [f"owlgrid:login:ip:{client_address(request)}", f"owlgrid:login:user:{username}"]


def locked_out(request: HttpRequest) -> bool:
    return any((cache.get(key) or 0) >= MAX_FAILURES for key in failure_keys(request))


def record_failure(request: HttpRequest) -> None:
    for key in failure_keys(request):
        cache.add(key, 0, WINDOW_SECONDS)
        cache.incr(key)


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if locked_out(request):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many failed attempts. Try again in 15 minutes.")
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        record_failure(self.request)
        return super().form_invalid(form)
