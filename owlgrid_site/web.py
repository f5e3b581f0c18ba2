"""The web server's application (`daphne owlgrid_site.web:application`).

It is `owlgrid_site.asgi`'s application with the database connections a long-lived web
process wants (`envconf.web_database_connections`) and its memory ceiling
(OWLGRID_WEB_MEMORY_MB). `asgi.py` stays plain for tests and tools
that import it in-process.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")

import sys  # noqa: E402

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

try:
    settings.INSTALLED_APPS  # noqa: B018 - reads the settings: a bad value stops here
except ImproperlyConfigured as exc:  # a configuration mistake: the message says it all
    sys.exit(f"OwlGrid cannot start: {exc}")

from owlgrid_site.envconf import web_database_connections  # noqa: E402
from runner.memory import set_memory_ceiling  # noqa: E402
from runner.supervisor import exit_with_parent  # noqa: E402

web_database_connections(settings.DATABASES)
set_memory_ceiling(settings.OWLGRID_WEB_MEMORY_MB)
exit_with_parent()  # under `manage.py serve`: never outlive it

from owlgrid_site.asgi import application  # noqa: E402

__all__ = ["application"]
