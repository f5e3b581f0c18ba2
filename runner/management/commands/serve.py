"""`make run`: migrate, load the demo once, then start Daphne, the workers and (if needed) Redis,
and keep them up (runner/supervisor.py)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from runner import embedded_redis
from runner.management.commands.run_workers import Housekeeping, worker_children
from runner.supervisor import Child, Supervisor


class Command(BaseCommand):
    help = (
        "Set up and start OwlGrid: migrate, load the demo (once), then run Daphne (HTTP and "
        "websockets), the RQ workers with the scheduler and sweeper, and an embedded Redis "
        "when none is configured. A process that dies is started again; Ctrl-C stops "
        "everything."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1",
                            help="address the web server listens on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000,
                            help="port the web server listens on (default 8000)")
        parser.add_argument("--workers", type=int, default=None,
                            help="worker processes (default: OWLGRID_WORKERS)")
        parser.add_argument("--no-workers", action="store_true")
        parser.add_argument("--no-demo", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
        redis = None
        if settings.OWLGRID_EMBEDDED_REDIS:
            self.stdout.write(f"starting the embedded Redis at {settings.REDIS_URL}")
            redis = embedded_redis.start(settings.REDIS_URL, settings.VAR_DIR / "redis")
        try:
            call_command("migrate", interactive=False, verbosity=0)
            if not options["no_demo"]:
                call_command("load_demo")
            children = [web_child(options["host"], options["port"], env)]
            if not options["no_workers"]:
                count = options["workers"] or settings.OWLGRID_WORKERS
                children += worker_children(count, env=env)
            supervisor = Supervisor(
                children, on_tick=None if options["no_workers"] else Housekeeping().tick)
            signal.signal(signal.SIGINT, supervisor.request_stop)
            signal.signal(signal.SIGTERM, supervisor.request_stop)
            self.stdout.write(self.style.SUCCESS(
                f"OwlGrid is up: http://{options['host']}:{options['port']}/"))
            supervisor.run()
        finally:
            if redis is not None:
                embedded_redis.stop(redis)


def web_child(host: str, port: int, env: dict[str, str]) -> Child:
    return Child("web server", [sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
                                "owlgrid_site.web:application"], env)
