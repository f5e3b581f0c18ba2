"""Load the demo data once (environments, admin, the ops group, example workflows)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from runner.demo import load_demo


class Command(BaseCommand):
    help = "Create the demo environments, admin user, security group and example workflows."

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = load_demo()
        if outcome["admin_password"]:
            self.stdout.write(self.style.WARNING(
                "Created the admin user. Log in as 'admin' with password: "
                f"{outcome['admin_password']}  "
                "(shown once; set OWLGRID_ADMIN_PASSWORD to choose it)"
            ))
        for name in outcome["workflows"]:
            self.stdout.write(f"loaded demo workflow {name}")
