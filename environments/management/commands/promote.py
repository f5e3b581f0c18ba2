"""Promote a workflow's deployed version to the next environment, or roll it back."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment
from environments.promotion import (
    PromotionRefused,
    diff_lines,
    workflow_promote,
    workflow_rollback,
)
from workflows.models import Workflow


class Command(BaseCommand):
    help = ("Promote WORKFLOW --from ENV --to ENV (every check must pass; --dry-run only shows "
            "them); without --from, deploy the latest published version to the first "
            "environment; --rollback --to ENV re-deploys the previous version. Exit 0 when "
            "deployed, 1 when a check failed, 2 on bad arguments.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("workflow")
        parser.add_argument("--from", dest="source")
        parser.add_argument("--to", dest="target", required=True)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--rollback", action="store_true")
        parser.add_argument("--user", default="admin", help="who promotes (default: admin)")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = Workflow.objects.filter(name=options["workflow"]).first()
        target = Environment.objects.filter(name=options["target"]).first()
        source = Environment.objects.filter(name=options["source"]).first() if options[
            "source"] else None
        user = get_user_model().objects.filter(username=options["user"]).first()
        if workflow is None or target is None or user is None or (
                options["source"] and source is None):
            raise CommandError("unknown workflow, environment or user", returncode=2)
        try:
            if options["rollback"]:
                plan = workflow_rollback(workflow=workflow, environment=target, user=user,
                                         dry_run=options["dry_run"])
            else:
                plan = workflow_promote(workflow=workflow, source=source, target=target,
                                        user=user, dry_run=options["dry_run"])
        except PromotionRefused as refused:
            plan = refused.plan
        for check in plan.checks:
            stream = self.stdout if check.ok else self.stderr
            stream.write(f"{'ok  ' if check.ok else 'FAIL'} {check.message}")
        if options["dry_run"] and plan.version is not None:
            changes = diff_lines(plan.diff)
            self.stdout.write(f"changes against what {target.name} runs now:"
                              if changes else f"no change against what {target.name} runs now")
            for line in changes:
                self.stdout.write(f"  {line}")
        if not plan.ok:
            raise CommandError("promotion refused; nothing changed", returncode=1)
        if not options["dry_run"]:
            self.stdout.write(f"{workflow.name} v{plan.version.number} now runs in {target.name}")
