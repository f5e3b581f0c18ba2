"""Start N RQ workers (with RQ's scheduler for timed wake-ups) and the sweeper, restarting a
worker that dies (runner/supervisor.py)."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from runner.supervisor import Child, Supervisor, exit_with_parent

SWEEP_INTERVAL = 1.0
PRUNE_EVERY = 3600  # seconds between retention passes


class Command(BaseCommand):
    # The web process runs Django's system checks; here they would import every view, the API
    # and its schemas into every worker, for nothing a worker executes.
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
        supervisor = Supervisor(worker_children(count, fork=options["fork"]), tick=SWEEP_INTERVAL,
                                on_tick=None if options["no_sweeper"] else Housekeeping().tick)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        self.stdout.write(f"started {count} worker(s)")
        supervisor.run()


def worker_children(count: int, *, fork: bool = False, env: dict[str, str] | None = None,
                    ) -> list[Child]:
    command = [sys.executable, "manage.py", "run_workers", "--one"]
    if fork:
        command.append("--fork")
    return [Child(f"worker {index}", command, env) for index in range(1, count + 1)]


class Housekeeping:
    """What the launcher does between its checks of the workers: fire due schedules, sweep,
    and prune old runs now and then."""

    def __init__(self) -> None:
        self.next_prune = time.monotonic() + 60

    def tick(self) -> None:
        sweep_safely()
        if time.monotonic() >= self.next_prune:
            prune_safely()
            self.next_prune = time.monotonic() + PRUNE_EVERY


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
    from runner.trigger_limits import prune_expired

    try:
        prune_runs()
        prune_expired()
    except Exception:  # noqa: BLE001 - retention must never stop the workers
        import logging

        logging.getLogger("owlgrid.runner").warning("retention pass failed", exc_info=True)
    finally:
        close_old_connections()


def run_one_worker(*, burst: bool = False, fork: bool = False) -> None:
    """SimpleWorker runs jobs in its own process: no fork per job and warm database
    connections. Isolation comes from leases and the launcher: a worker that dies loses its
    lease, the run resumes elsewhere, and the launcher starts a new worker."""
    from django.db import connections
    from rq.worker import SimpleWorker, Worker

    from runner.memory import set_memory_ceiling
    from runner.queueing import get_queue

    set_memory_ceiling(settings.OWLGRID_WORKER_MEMORY_MB)
    exit_with_parent()
    worker_database_connections({c.alias: c.settings_dict for c in connections.all()})
    connections.close_all()  # a connection opened during start-up reopens with these settings
    queue = get_queue()
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue], connection=queue.connection, serializer=queue.serializer)
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")


def worker_database_connections(databases: dict) -> None:
    """A worker runs one job after another on one thread: its SQLite connection is kept for the
    process's life instead of reopened for every job (PostgreSQL keeps its CONN_MAX_AGE). A
    connection that failed is still closed and reopened between jobs."""
    for database in databases.values():
        if database["ENGINE"] == "django.db.backends.sqlite3":
            database["CONN_MAX_AGE"] = None
