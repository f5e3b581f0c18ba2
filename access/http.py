"""Requests as every app's views see them, typed with what middleware adds to `HttpRequest`."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (its documented typing pattern)."""

    htmx: HtmxDetails
