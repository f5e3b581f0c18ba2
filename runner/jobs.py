"""RQ jobs: thin functions that receive a run id and hand it to the engine."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from django.db import InterfaceError, OperationalError, close_old_connections, connection

from runner import journal
from runner.engine import Engine

logger = logging.getLogger("owlgrid.runner")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def worker_identity() -> str:
    # Recomputed after fork so that each process has its own lease identity.
    return f"{socket.gethostname()}:{os.getpid()}:{WORKER_ID.rsplit(':', 1)[1]}"


def execute_run(run_id: str) -> str:
    """Claim the run and execute it; a run someone else holds (or nothing to do) is a no-op."""
    close_old_connections()
    try:
        worker = worker_identity()
        claimed = _claim(run_id, worker)
        if claimed is None:
            return "not claimed"
        run, fresh = claimed
        Engine(run, worker, fresh=fresh).execute()
        return "done"
    finally:
        close_old_connections()


def _claim(run_id: str, worker: str) -> tuple[journal.Run, bool] | None:
    try:
        return journal.claim_run(run_id, worker)
    except (InterfaceError, OperationalError):
        # The connection kept from the previous job may have died (a database restart): workers
        # do not ping it before each job (run_workers.worker_database_connections), so once more on
        # a new one. A claim that committed before the reply was lost leaves the run leased to
        # this worker: it is not claimed again, and the sweeper re-queues it once the lease ends.
        connection.close()
        return journal.claim_run(run_id, worker)
