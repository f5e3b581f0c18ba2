"""A step's commit on PostgreSQL in one statement: one round trip instead of four.

Through the ORM a step's commit is BEGIN, the fencing UPDATE, the INSERT of its events and
lines, and COMMIT, each waiting for the server, and those waits were most of a durable step's
cost (docs/performance.md). Here the fence and the inserts are one statement (data-modifying
`WITH` queries), which PostgreSQL runs as one transaction in autocommit mode: the rows are
inserted only if the fence updated the run, so a worker that lost its lease writes nothing,
as with the ORM path.

Public APIs only: raw SQL through `connection.cursor()` ("Executing custom SQL directly",
docs/topics/db/sql) with table and column names from the Model `_meta` API
(docs/ref/models/meta); PostgreSQL's `WITH` with `INSERT`/`UPDATE` ... `RETURNING`
(postgresql.org/docs/current/queries-with.html, "Data-Modifying Statements in WITH").
SQLite keeps the ORM path: it has no network round trip to save.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models
from django.utils import timezone

from runner.journal.records import EVENT_DEFAULTS, LeaseLost
from runner.models import LogLine, Run, StepEvent

EVENT_COLUMNS = ("run_id", "step_key", "action_name", "action_type", "status", "attempt",
                 "inputs", "output", "error", "worker", "created_at")
LINE_COLUMNS = ("run_id", "seq", "step_key", "level", "message", "created_at")
JSON_FIELDS = {"inputs", "output", "error", "response"}
CASTS = {"run_id": "::uuid", "attempt": "::integer", "seq": "::bigint",
         "created_at": "::timestamptz", **{name: "::jsonb" for name in JSON_FIELDS}}


def commit(run: Run, worker: str, columns: dict[str, Any], events: list[dict[str, Any]],
           lines: list[dict[str, Any]]) -> bool:
    """Renew the lease with `columns`, and insert `events` and `lines` if it held; return the
    run's cancel flag. Raises `LeaseLost` when another worker holds the run."""
    now = timezone.now()
    params: list[Any] = []
    sets = []
    for name, value in columns.items():
        sets.append(f"{_column(Run, name)} = %s{CASTS.get(name, '')}")
        params.append(_db_value(name, value))
    # Names come from the models' _meta and values travel as parameters.
    sql = [f"WITH fenced AS (UPDATE {_table(Run)} SET {', '.join(sets)} "  # noqa: S608
           f"WHERE {_column(Run, 'id')} = %s AND {_column(Run, 'lease_owner')} = %s "
           f"RETURNING {_column(Run, 'cancel_requested')} AS cancel)"]
    params += [run.id, worker]
    if events:
        rows = [{"run_id": run.id, "worker": worker, **EVENT_DEFAULTS, **event,
                 "created_at": now} for event in events]
        sql.append(_insert("events", StepEvent, EVENT_COLUMNS, rows, params))
    if lines:
        rows = [{"step_key": "", "level": "info", **line, "run_id": run.id, "created_at": now}
                for line in lines]
        sql.append(_insert("lines", LogLine, LINE_COLUMNS, rows, params))
    with connection.cursor() as cursor:
        cursor.execute(", ".join(sql) + " SELECT cancel FROM fenced", params)  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")
    return bool(row[0])


def _insert(alias: str, model: type[models.Model], columns: tuple[str, ...],
            rows: list[dict[str, Any]], params: list[Any]) -> str:
    values = []
    for row in rows:
        values.append("(" + ", ".join(f"%s{CASTS.get(c, '')}" for c in columns) + ")")
        params.extend(_db_value(c, row.get(c)) for c in columns)
    names = ", ".join(_column(model, c) for c in columns)
    return (f"{alias} AS (INSERT INTO {_table(model)} ({names}) "  # noqa: S608
            f"SELECT * FROM (VALUES {', '.join(values)}) AS v({names}) "
            "WHERE EXISTS (SELECT 1 FROM fenced))")


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name.removesuffix("_id"))
    assert isinstance(field, models.Field) and field.column  # a concrete column of the model
    return connection.ops.quote_name(field.column)


def _db_value(name: str, value: Any) -> Any:
    """JSON fields as JSON text (None stays SQL NULL, as the ORM stores it)."""
    if name in JSON_FIELDS and value is not None:
        return json.dumps(value)
    return value
