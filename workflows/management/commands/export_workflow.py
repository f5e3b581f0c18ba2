"""Print a workflow version as a JSON document (docs/workflow-format.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.format import workflow_export
from workflows.models import Workflow, WorkflowVersion


class Command(BaseCommand):
    help = "Export a workflow version as JSON (stdout, or --output FILE). Exit 1 if not found."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # `--version N` names the workflow version, replacing Django's --version flag here.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="the workflow's name")
        parser.add_argument("--version", type=int, dest="number",
                            help="version number (default: the latest)")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = Workflow.objects.filter(name=options["name"]).first()
        if workflow is None:
            raise CommandError(f"no workflow named {options['name']!r}", returncode=1)
        try:
            document = workflow_export(workflow=workflow, number=options["number"])
        except WorkflowVersion.DoesNotExist as exc:
            raise CommandError(str(exc), returncode=1) from None
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if options["output"]:
            with open(options["output"], "w") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
