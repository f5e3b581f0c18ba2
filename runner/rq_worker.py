"""OwlGrid's RQ worker classes: RQ's own, minus Redis round trips that repeat what was just
written.

Between two jobs a worker tells Redis it is idle twice (after the job, then before waiting for
the next) and sends two heartbeats (before and after the wait, each an HSET then an EXPIRE), all
one round trip at a time: six of the fourteen or so round trips RQ makes per job when jobs come
back to back. Here a heartbeat is one pipelined round trip, one that repeats the previous
heartbeat within a few seconds is skipped (the worker key's TTL is minutes), and a state the
worker itself wrote last is not written again: two round trips instead of six. The job's own
bookkeeping (registries, executions, results, failures) is RQ's, unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from rq.worker import SimpleWorker, Worker

REPEAT_HEARTBEAT_SECONDS = 5.0


class FewerRoundTrips:
    _state: str
    connection: Any
    _plain_heartbeat: tuple[Any, float] | None = None

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # part of RQ's job bookkeeping: it may set another TTL
            self._plain_heartbeat = None
            super().heartbeat(timeout, pipeline=pipeline)  # type: ignore[misc]
            return
        last = self._plain_heartbeat
        if last is not None and last[0] == timeout and (
                time.monotonic() - last[1] < REPEAT_HEARTBEAT_SECONDS):
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)  # type: ignore[misc]
            pipe.execute()
        self._plain_heartbeat = (timeout, time.monotonic())

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline=pipeline)  # type: ignore[misc]


class RunWorker(FewerRoundTrips, SimpleWorker):
    """SimpleWorker: jobs run in the worker's own process (the default)."""


class ForkingRunWorker(FewerRoundTrips, Worker):
    """RQ's forking Worker (`run_workers --fork`)."""
