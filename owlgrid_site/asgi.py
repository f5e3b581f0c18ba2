"""ASGI entry point: HTTP through Django, websockets through Channels (served by Daphne)."""

import os

import django
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does before building its handler

from owlgrid_site.one_hop import OneHopHandler  # noqa: E402

# Pages and the API: the middleware chain and the view in one thread hop (see one_hop.py).
# Static files are served by the app itself (from static/, no collectstatic step), so that
# `make run` is complete on its own; a proxy may serve STATIC_ROOT in front of it instead.
django_asgi_app = ASGIStaticFilesHandler(OneHopHandler())

from owlgrid_site.hooks_asgi import HooksHandler, route_hooks  # noqa: E402

# Trigger calls skip the browser middleware (sessions, CSRF, auth...): see hooks_asgi.py.
http_app = route_hooks(HooksHandler(), django_asgi_app)

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from runner.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(SessionMiddleware(AuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)
