"""Cursors whose statements are prepared on the PostgreSQL server, for the runs' hot path.

Django binds parameters on the client with psycopg 3 (`ClientCursor`): every statement reaches
PostgreSQL as new literal text, to be parsed and planned again, and Django turns psycopg's
automatic preparation off (`prepare_threshold=None`) so that connection poolers keep working.
For the few statements every run makes (the route check, the run's insert, the claim, each
step's commit, the finish), planning costs the server more than executing them: replayed on one
connection, 0.48-0.53 ms of the server's CPU per route check, 0.42-0.43 per claim, 0.41-0.43 per
finish and 0.21-0.22 per step commit, and 0.07-0.14 ms each once prepared (docs/performance.md,
"Sixth round"). These statements go through a cursor that binds on the server and prepares each
statement text once per connection (psycopg keeps the names, up to `prepared_max` per
connection); the values still travel as parameters.

Everything else keeps Django's cursor. A transaction pooler that hands one client's
connections out per transaction (PgBouncer's transaction mode before 1.21) does not support
prepared statements; `OWLGRID_DB_PREPARE=false` turns them off. SQLite's module already keeps
the statements it compiled, per connection.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

PREPARE_THRESHOLD = 5  # psycopg's default; this module's cursor asks for preparation at once


def prepared_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor on `db` (Django's wrapper: errors, debug logging and query counting as usual)
    whose statements are prepared on PostgreSQL; Django's own cursor elsewhere."""
    if db.vendor != "postgresql" or not settings.OWLGRID_DB_PREPARE:
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django leaves it None, which makes psycopg refuse to prepare even when asked. Only
        # server-binding cursors ever prepare, and Django's are all client-binding: this
        # module's cursor is the one that does.
        raw.prepare_threshold = PREPARE_THRESHOLD
    with db.wrap_database_errors:
        return db._prepare_cursor(_cursor_class()(raw))  # noqa: SLF001


@functools.cache
def _cursor_class() -> type:
    """Django's server-binding cursor, preparing by default (imported on first use: psycopg is
    only there with PostgreSQL)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True,
                    binary: bool | None = None) -> Any:
            return super().execute(query, params, prepare=prepare, binary=binary)

        def _convert_query(self, query: Any, params: Any = None) -> Any:
            # psycopg records the statement it sent only when it was not prepared; Django's
            # query log (and its tests' query capture) reads it from there.
            self._query = super()._convert_query(query, params)
            return self._query

    return PreparingCursor
