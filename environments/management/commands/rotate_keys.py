"""Re-encrypt every secret with the first key of OWLGRID_SECRETS_KEYS (after adding a key)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from environments.secrets import SecretDecryptionError
from environments.services import rotate_all_secrets


class Command(BaseCommand):
    help = ("Re-encrypt every secret variable and connection secret with the newest key. "
            "Add the new key first in OWLGRID_SECRETS_KEYS, run this, then drop the old key.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = rotate_all_secrets()
        except SecretDecryptionError as exc:
            raise CommandError(f"{exc}; nothing was changed", returncode=1) from None
        self.stdout.write(f"re-encrypted {counts['variables']} variable(s) and "
                          f"{counts['connections']} connection(s)")
