"""OwlGrid's RQ worker classes: RQ's own, minus Redis round trips that repeat what was just
written.

Between two jobs RQ's worker, one round trip at a time, marks itself idle, sends a heartbeat,
sends it again with the suspension check, sends it once more before waiting for the next job
and once more after; and when a job returns it writes the job's heartbeat just before its
result. Here:

- a heartbeat that repeats the previous one (same TTL, within a few seconds, plain or in one
  of RQ's pipelines) is left out: the worker key's TTL is minutes;
- a plain heartbeat is one pipelined round trip, and the idle state written after a job goes
  with the heartbeat that RQ's loop sends next;
- a state the worker itself wrote last is not written again;
- the job's heartbeat at the end of a successful execution is left out when the job has no
  success callback: it only exists to cover the callback's run, and the result follows at once.

Per job that is ten round trips instead of thirteen. The job's own bookkeeping (registries,
executions, results, failures) is RQ's, unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from rq.job import JobStatus
from rq.utils import now
from rq.worker import SimpleWorker, Worker, WorkerStatus

REPEAT_HEARTBEAT_SECONDS = 5.0


class FewerRoundTrips:
    _state: str
    connection: Any
    worker_ttl: int
    _last_heartbeat: tuple[int, float] | None = None  # (TTL, monotonic time written)
    _idle_unwritten = False

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        timeout = timeout or self.worker_ttl + 60  # RQ's default
        repeat = self._repeats_last_heartbeat(timeout)
        if pipeline is not None:  # one of RQ's own pipelines: add to it
            self._write_heartbeat(timeout, repeat, pipeline)
            return
        if repeat and not self._idle_unwritten:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            self._write_heartbeat(timeout, repeat, pipe)
            pipe.execute()

    def _repeats_last_heartbeat(self, timeout: int) -> bool:
        last = self._last_heartbeat
        return last is not None and last[0] == timeout and (
            time.monotonic() - last[1] < REPEAT_HEARTBEAT_SECONDS)

    def _write_heartbeat(self, timeout: int, repeat: bool, pipeline: Any) -> None:
        if self._idle_unwritten:
            super().set_state(WorkerStatus.IDLE, pipeline=pipeline)  # type: ignore[misc]
            self._idle_unwritten = False
        if not repeat:
            super().heartbeat(timeout, pipeline=pipeline)  # type: ignore[misc]
            self._last_heartbeat = (timeout, time.monotonic())

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == self._state:
            return
        if pipeline is None and state == WorkerStatus.IDLE:
            # RQ's loop sends a heartbeat right after marking the worker idle: written with it.
            self._state = state
            self._idle_unwritten = True
            return
        self._idle_unwritten = False
        super().set_state(state, pipeline=pipeline)  # type: ignore[misc]

    def handle_execution_ended(self, job: Any, queue: Any, heartbeat_ttl: int) -> None:
        succeeded = job.get_status(refresh=False) == JobStatus.STARTED  # RQ marks failures first
        if succeeded and job.success_callback is None:
            job.ended_at = now()
            return
        super().handle_execution_ended(job, queue, heartbeat_ttl)  # type: ignore[misc]


class RunWorker(FewerRoundTrips, SimpleWorker):
    """SimpleWorker: jobs run in the worker's own process (the default)."""


class ForkingRunWorker(FewerRoundTrips, Worker):
    """RQ's forking Worker (`run_workers --fork`)."""
