"""Create an API token for a security group; the token is printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from access.models import SecurityGroup
from access.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for GROUP, printed once (only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("group")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        group = SecurityGroup.objects.filter(name=options["group"]).first()
        if group is None:
            raise CommandError(f"no security group named {options['group']!r}", returncode=1)
        token, raw = token_create(group=group, name=options["name"])
        self.stdout.write(raw)
        self.stderr.write(f"token {token.prefix} created for {group.name}; it is not shown again")
