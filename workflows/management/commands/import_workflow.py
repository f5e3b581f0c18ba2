"""Import a workflow document; every problem is printed with its JSON path, nothing written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from workflows.format import ImportErrors, workflow_import


class Command(BaseCommand):
    help = (
        "Import a workflow JSON document as the workflow's draft (or a published version with "
        "--publish). Exit 0 on success, 1 when the document has problems (listed on stderr)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="path to the JSON document, or - for stdin")
        parser.add_argument("--publish", action="store_true", help="publish the new version")
        parser.add_argument("--note", help="version note (default: the document's note)")
        parser.add_argument("--group", action="append", default=[],
                            help="add this security group to the workflow's perimeters "
                                 "(repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror}", returncode=1) from None
        try:
            version = workflow_import(document=raw, publish=options["publish"],
                                      note=options["note"])
        except ImportErrors as exc:
            for path, message in exc.problems:
                self.stderr.write(f"{path}: {message}")
            raise CommandError(f"{exc.total} problem(s) (the first {len(exc.problems)} shown); "
                               "nothing imported" if exc.total > len(exc.problems) else
                               f"{exc.total} problem(s); nothing imported",
                               returncode=1) from None
        from access.models import SecurityGroup

        groups = list(SecurityGroup.objects.filter(name__in=options["group"]))
        missing = set(options["group"]) - {group.name for group in groups}
        if missing:
            raise CommandError(f"no security group named {', '.join(sorted(missing))}",
                               returncode=1)
        version.workflow.perimeters.add(*groups)
        self.stdout.write(f"imported {version.workflow.name} version {version.number} "
                          f"({version.status})")
