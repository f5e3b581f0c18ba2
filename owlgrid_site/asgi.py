"""ASGI entry point: HTTP through Django, websockets through Channels (served by Daphne)."""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
# Static files are served by the app itself (from static/, no collectstatic step), so that
# `make run` is complete on its own; a proxy may serve STATIC_ROOT in front of it instead.
django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())

from django.conf import settings  # noqa: E402

from owlgrid_site.envconf import web_database_connections  # noqa: E402

# A sync view runs in a thread of its own request's context, so persistent connections would
# pile up one per thread (measured with 16 clients: PostgreSQL reached max_connections and
# answered 500s). The web process borrows PostgreSQL connections from a pool instead.
web_database_connections(settings.DATABASES)

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from runner.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(SessionMiddleware(AuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)

# Load what every request needs now (URLconf, views, the API) rather than on the first call,
# then freeze and trim the start-up heap (see owlgrid_site/process.py).
from django.urls import get_resolver  # noqa: E402

from owlgrid_site.process import (  # noqa: E402
    limit_malloc_arenas,
    profile_if_asked,
    settle_after_startup,
)

limit_malloc_arenas()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view it names
settle_after_startup()
profile_if_asked("web")
