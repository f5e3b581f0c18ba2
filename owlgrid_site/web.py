"""The web server's entry point (`daphne owlgrid_site.web:application`): process tuning, then
OwlGrid's ASGI application.

`asgi.py` stays a plain module that tests and tools import in-process; what only a long-lived
web process should do happens here, before it serves anything:
- PostgreSQL connections come from a pool shared by the request threads. Under ASGI a sync view
  runs in a thread of its own request's context, so persistent connections piled up one per
  thread (16 clients: PostgreSQL reached max_connections and answered 500s), and a new
  connection per request cost ≈ 6 ms (docs/performance.md).
- The URLconf and every view are imported at start, and the channel layer's backend without
  cryptography (runner/broadcast.py, `import_layer_backends`); then the start-up heap is
  collected, trimmed and frozen (owlgrid_site/process.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")

from django.conf import settings  # noqa: E402

from owlgrid_site.envconf import web_database_connections  # noqa: E402

web_database_connections(settings.DATABASES)

from django.urls import get_resolver  # noqa: E402

from owlgrid_site.asgi import application  # noqa: E402
from owlgrid_site.process import (  # noqa: E402
    limit_malloc_arenas,
    profile_if_asked,
    settle_after_startup,
)
from runner.broadcast import import_layer_backends  # noqa: E402

__all__ = ["application"]

limit_malloc_arenas()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view it names
import_layer_backends()
settle_after_startup()
profile_if_asked("web")
