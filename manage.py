#!/usr/bin/env python
"""Django's command-line utility for OwlGrid."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - reads the settings: a bad value stops here
    except ImproperlyConfigured as exc:  # a configuration mistake: the message says it all
        sys.exit(f"OwlGrid cannot start: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
