"""The journal's transactions: Django's `atomic`, and on SQLite the write lock waited for in
fine steps.

Every transaction on SQLite begins with `BEGIN IMMEDIATE` (`transaction_mode` in the database
OPTIONS), and the web process, each worker and the sweeper take that one lock in turn. While
another connection holds it, SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms
between attempts however briefly the lock is held, so a transaction of a fraction of a
millisecond costs each waiter 1 ms at least and 3 ms after a second miss. Here `BEGIN` is tried
with the busy handler off and retried after 0.1 ms, the pause doubling up to 2 ms, until the
connection's `timeout` has passed; then it fails as SQLite would ("database is locked").

Public API only: Django's database instrumentation, `connection.execute_wrapper()`
(docs/topics/db/instrumentation); the wrapper sees `BEGIN` and sends its two PRAGMAs down the
same chain. The wait schedule is SQLite's, sqlite3.c `sqliteDefaultBusyCallback`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.db import OperationalError, connection, transaction

FIRST_PAUSE = 0.0001
LONGEST_PAUSE = 0.002
DEFAULT_TIMEOUT = 5.0  # the sqlite3 module's


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """`transaction.atomic()`; on SQLite, the outermost one begins in fine steps."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with connection.execute_wrapper(begin_in_fine_steps), transaction.atomic():
        yield


def begin_in_fine_steps(execute: Callable[..., Any], sql: str, params: Any, many: bool,
                        context: dict[str, Any]) -> Any:
    if not sql.startswith("BEGIN"):
        return execute(sql, params, many, context)
    timeout = float(context["connection"].settings_dict.get("OPTIONS", {}).get(
        "timeout", DEFAULT_TIMEOUT))
    execute("PRAGMA busy_timeout = 0", None, False, context)
    try:
        deadline = time.monotonic() + timeout
        pause = FIRST_PAUSE
        while True:
            try:
                return execute(sql, params, many, context)
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
    finally:
        execute(f"PRAGMA busy_timeout = {int(timeout * 1000):d}", None, False, context)
