"""Start N RQ workers (with RQ's scheduler for timed wake-ups) and the sweeper."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

SWEEP_INTERVAL = 1.0
PRUNE_EVERY = 3600  # seconds between retention passes


class Command(BaseCommand):
    # The web process runs Django's system checks; here they would import every view, the API
    # and its schemas (about 10 MB per worker) for nothing a worker executes.
    requires_system_checks: list[str] = []
    help = (
        "Start OwlGrid's execution: N RQ worker processes (SimpleWorker, with the scheduler) "
        "and a sweeper loop that re-queues due and orphaned runs. Ctrl-C stops them all."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--count", type=int, default=None,
                            help="worker processes (default: OWLGRID_WORKERS)")
        parser.add_argument("--one", action="store_true",
                            help="run a single worker in this process (used by the launcher)")
        parser.add_argument("--no-sweeper", action="store_true",
                            help="do not run the sweeper loop in this process")
        parser.add_argument("--burst", action="store_true",
                            help="with --one: exit when the queue is empty")
        parser.add_argument("--fork", action="store_true",
                            help="use RQ's forking Worker (a work horse per job) instead of "
                                 "SimpleWorker: slower, but a crashing job cannot take the "
                                 "worker down")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["one"]:
            run_one_worker(burst=options["burst"], fork=options["fork"])
            return
        count = options["count"] or settings.OWLGRID_WORKERS
        command = [sys.executable, "manage.py", "run_workers", "--one"]
        if options["fork"]:
            command.append("--fork")
        children = [subprocess.Popen(command) for _ in range(count)]  # noqa: S603
        self.stdout.write(f"started {count} worker(s)")
        stopping = False
        failed = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        next_prune = time.monotonic() + 60
        try:
            while not stopping:
                if any(child.poll() is not None for child in children):
                    self.stderr.write("a worker exited unexpectedly; stopping")
                    failed = True
                    break
                if not options["no_sweeper"]:
                    sweep_safely()
                    if time.monotonic() >= next_prune:
                        prune_safely()
                        next_prune = time.monotonic() + PRUNE_EVERY
                time.sleep(SWEEP_INTERVAL)
        finally:
            stop_children(children)
        if failed:
            sys.exit(1)


def sweep_safely() -> None:
    from django.db import close_old_connections

    from runner.cron import fire_due_schedules
    from runner.sweeper import sweep

    try:
        fire_due_schedules()
        sweep()
    except Exception:  # noqa: BLE001 - Redis or the database away: try again next tick
        import logging

        logging.getLogger("owlgrid.runner").warning("sweep failed", exc_info=True)
    finally:
        close_old_connections()


def prune_safely() -> None:
    from django.db import close_old_connections

    from runner.retention import prune_runs

    try:
        prune_runs()
    except Exception:  # noqa: BLE001 - retention must never stop the workers
        import logging

        logging.getLogger("owlgrid.runner").warning("retention pass failed", exc_info=True)
    finally:
        close_old_connections()


def stop_children(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def run_one_worker(*, burst: bool = False, fork: bool = False) -> None:
    """SimpleWorker runs jobs in its own process: no fork per job (about 3.5× the job rate of
    the forking Worker on our 2-core machine) and warm database connections. Isolation comes
    from leases instead: a worker that dies loses its lease and the run resumes elsewhere."""
    from django.db import connections

    import runner.jobs  # noqa: F401 - imported now so that it is part of the frozen start-up heap
    from owlgrid_site.envconf import worker_database_connections
    from owlgrid_site.process import limit_malloc_arenas, profile_if_asked, settle_after_startup
    from runner.broadcast import import_layer_backends
    from runner.queueing import get_queue
    from runner.rq_worker import ForkingRunWorker, RunWorker

    worker_database_connections({c.alias: c.settings_dict for c in connections.all()})
    connections.close_all()  # a connection opened during start-up reopens with these settings
    limit_malloc_arenas()
    import_layer_backends()
    queue = get_queue()
    worker_class = ForkingRunWorker if fork else RunWorker
    worker = worker_class([queue], connection=queue.connection, serializer=queue.serializer)
    settle_after_startup()
    profile_if_asked("worker")
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
