"""Django's SQLite backend, with the write lock waited for in fine steps.

Every OwlGrid transaction on SQLite begins with `BEGIN IMMEDIATE` (the write lock up front,
so that no transaction fails half-way on upgrading a read lock), and the web process, each
worker and the sweeper take that one lock in turn. While another connection holds it, SQLite's
own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms between attempts,
however briefly the lock is held: a transaction of a few tenths of a millisecond costs each
waiter 1 ms at least, and 3 ms after a second miss. In a worker's profile (two workers, 16
clients calling) that was 2.7 ms per `BEGIN`, 10.8 ms per run (docs/performance.md, "Fifth
round").

Here `BEGIN` is tried with the busy handler off and retried after 0.1 ms, the pause doubling
up to 2 ms, until the connection's `timeout` has passed; then it fails as SQLite would have
("database is locked"). Every other statement keeps SQLite's handler: statements inside a
transaction already hold the lock, and those outside one are rare and keep SQLite's waits.

The web process also keeps a few idle connections (`OPTIONS["idle_connections"]`, set by
`envconf.web_database_connections`). Each page runs in a thread of its own request, so it
opened a new connection and closed it at the end: SQLite reads the schema again on every new
connection, and Django registers its functions and runs its PRAGMAs, 4.2 ms of CPU of a plain
page's ≈ 8.5 (docs/performance.md). A connection closed outside a transaction now waits, open,
for the next request of the process to take it; one closed inside a transaction or an atomic
block, or beyond the limit, is closed as before. This is what the psycopg pool does for
PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

FIRST_PAUSE = 0.0001
LONGEST_PAUSE = 0.002
DEFAULT_TIMEOUT = 5.0  # the sqlite3 module's


class IdleConnections:
    """Open connections to one database file, handed back by the requests that used them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        self.idle: list[sqlite3.Connection] = []

    def take(self) -> sqlite3.Connection | None:
        with self.lock:
            return self.idle.pop() if self.idle else None

    def keep(self, connection: sqlite3.Connection) -> bool:
        """Keep `connection` for the next taker; False when the limit is reached."""
        with self.lock:
            if len(self.idle) >= self.limit:
                return False
            self.idle.append(connection)
            return True


_idle_by_database: dict[str, IdleConnections] = {}
_idle_lock = threading.Lock()


def idle_connections(database: str, limit: int) -> IdleConnections:
    """The process's idle connections to `database` (resolved on every connect: no new objects
    once they exist)."""
    with _idle_lock:
        idle = _idle_by_database.get(database)
        if idle is None:
            idle = _idle_by_database[database] = IdleConnections(limit)
        return idle


class DatabaseWrapper(base.DatabaseWrapper):
    idle: IdleConnections | None = None

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        limit = int(params.pop("idle_connections", 0))  # not an option of sqlite3.connect()
        if limit > 0 and not self.is_in_memory_db():
            self.idle = idle_connections(str(self.settings_dict["NAME"]), limit)
        self.lock_timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> sqlite3.Connection:
        kept = self.idle.take() if self.idle is not None else None
        return kept if kept is not None else super().get_new_connection(conn_params)

    def _close(self) -> None:
        """Give the connection back, unless a transaction is open on it or an atomic block still
        holds it (Django keeps a connection closed inside one until the block exits)."""
        connection = self.connection
        if (self.idle is not None and connection is not None and not self.in_atomic_block
                and not connection.in_transaction and self.idle.keep(connection)):
            return
        super()._close()

    def _start_transaction_under_autocommit(self) -> None:
        statement = f"BEGIN {self.transaction_mode or ''}".strip()
        self._set_busy_timeout(0)
        try:
            begin_when_free(lambda: self.cursor().execute(statement), self.lock_timeout)
        finally:
            self._set_busy_timeout(int(self.lock_timeout * 1000))

    def _set_busy_timeout(self, milliseconds: int) -> None:
        """SQLite's own wait for a lock (what the sqlite3 module's `timeout` sets), changed on
        the connection itself: not a query of the application's, so not logged as one."""
        with self.wrap_database_errors:
            self.connection.execute(f"PRAGMA busy_timeout = {milliseconds:d}")


def begin_when_free(begin: Callable[[], object], timeout: float) -> None:
    """Call `begin` until it does not find the database locked, pausing briefly between tries,
    for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = FIRST_PAUSE
    while True:
        try:
            begin()
            return
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)
