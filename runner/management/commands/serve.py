"""`make run`: migrate, load the demo once, start Daphne, the workers and (if needed) Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from owlgrid_site import embedded_redis


class Command(BaseCommand):
    help = (
        "Set up and start OwlGrid: migrate, load the demo (once), then run Daphne (HTTP and "
        "websockets), the RQ workers with the scheduler and sweeper, and an embedded Redis "
        "when none is configured. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None,
                            help="worker processes (default: OWLGRID_WORKERS)")
        parser.add_argument("--no-workers", action="store_true")
        parser.add_argument("--no-demo", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen] = []
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        env = dict(os.environ, REDIS_URL=settings.REDIS_URL)
        try:
            if settings.OWLGRID_EMBEDDED_REDIS:
                self.stdout.write(f"starting the embedded Redis at {settings.REDIS_URL}")
                data_dir = settings.VAR_DIR / "redis"
                children.append(embedded_redis.start(settings.REDIS_URL, data_dir))
            call_command("migrate", interactive=False, verbosity=0)
            if not options["no_demo"]:
                call_command("load_demo")
            children.append(self.start_web(options, env))
            if not options["no_workers"]:
                children.append(self.start_workers(options, env))
            self.stdout.write(
                self.style.SUCCESS(f"OwlGrid is up: http://{options['host']}:{options['port']}/")
            )
            exit_code = self.supervise(children, lambda: stopping)
        finally:
            stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def start_web(self, options: dict, env: dict) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "owlgrid_site.webserver", "-b", options["host"],
             "-p", str(options["port"]),
             "owlgrid_site.web:application"],
            env=env,
        )

    def start_workers(self, options: dict, env: dict) -> subprocess.Popen:
        count = str(options["workers"] or settings.OWLGRID_WORKERS)
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_workers", "--count", count], env=env
        )

    def supervise(self, children: list[subprocess.Popen], stopping: Any) -> int:
        while not stopping():
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(f"{child.args[1:3]} exited with {child.returncode}")
                    return 1
            time.sleep(0.5)
        return 0


def stop_all(children: list[subprocess.Popen]) -> None:
    """SIGTERM every child, newest first; SIGKILL whoever is still there after 10 s."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in reversed(children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
