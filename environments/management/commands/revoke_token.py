"""Revoke an API token by its prefix (the part after og_ shown in the UI)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access.models import ApiToken
from access.tokens import token_revoke


class Command(BaseCommand):
    help = "Revoke the API token with this prefix. Exit 1 if there is none."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        token = ApiToken.objects.filter(prefix=options["prefix"]).first()
        if token is None:
            raise CommandError(f"no token with prefix {options['prefix']!r}", returncode=1)
        token_revoke(token=token)
        self.stdout.write(f"revoked {token.prefix}")
