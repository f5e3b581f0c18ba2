"""Start a run of a workflow from the command line, and optionally wait for its end."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from environments.models import Environment
from runner import services
from runner.models import Run
from workflows.models import Workflow


class Command(BaseCommand):
    help = ("Start WORKFLOW (the version deployed in --environment, else the latest published) "
            "with --input JSON. Prints the run id. With --wait, waits and exits 0 when the run "
            "completed, 1 when it failed or was cancelled, 3 on timeout; 2 on bad arguments.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("workflow")
        parser.add_argument("--environment")
        parser.add_argument("--input", default="{}", help="JSON, available as trigger.body")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=300)

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = Workflow.objects.filter(name=options["workflow"]).first()
        environment = None
        if options["environment"]:
            environment = Environment.objects.filter(name=options["environment"]).first()
            if environment is None:
                raise CommandError(f"no environment named {options['environment']!r}",
                                   returncode=2)
        if workflow is None:
            raise CommandError(f"no workflow named {options['workflow']!r}", returncode=2)
        try:
            payload = json.loads(options["input"])
            run = services.run_start_manual(workflow=workflow, payload=payload,
                                            environment=environment)
        except (ValueError, ValidationError) as exc:
            raise CommandError(f"cannot start: {exc}", returncode=2) from None
        self.stdout.write(str(run.id))
        if options["wait"]:
            self.wait(run, options["timeout"])

    def wait(self, run: Run, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.is_finished:
                self.stdout.write(json.dumps({"status": run.status, "result": run.result,
                                              "error": run.error}))
                if run.status != "completed":
                    raise CommandError(f"run {run.status}", returncode=1)
                return
            time.sleep(0.1)
        raise CommandError("timed out waiting for the run", returncode=3)
