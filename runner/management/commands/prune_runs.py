"""Delete old finished runs with their steps and logs (queued, running and waiting runs stay)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from runner.retention import prune_runs, reclaim_space


class Command(BaseCommand):
    help = ("Prune finished runs older than --days and/or beyond the newest --keep per "
            "workflow (defaults: OWLGRID_RETENTION_DAYS, OWLGRID_RETENTION_PER_WORKFLOW).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, help="prune runs older than this many days")
        parser.add_argument("--keep", type=int, help="keep only this many runs per workflow")
        parser.add_argument("--batch-size", type=int, default=500,
                            help="runs deleted per transaction (default 500)")
        parser.add_argument("--vacuum", action="store_true",
                            help="VACUUM afterwards so the space is reclaimed now")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("days", "keep"):
            if options[name] is not None and options[name] < 0:
                raise CommandError(f"--{name} must be zero or more", returncode=2)
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1", returncode=2)
        deleted = prune_runs(older_than_days=options["days"], keep_per_workflow=options["keep"],
                             batch_size=options["batch_size"])
        if options["vacuum"]:
            reclaim_space()
        self.stdout.write(f"pruned {deleted} run(s)")
