"""The journal: the only module that writes runs, step events and log lines (taskflow's storage).

Every write made on behalf of an executing run is fenced by its lease: the transaction first
renews the lease with `UPDATE ... WHERE lease_owner = me`, and if that touches no row the worker
lost the run (a zombie) and nothing it computed is kept. Queueing and live broadcasts happen
only after commit.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from runner import broadcast, queueing
from runner.models import LogLine, Run, RunLock, RunStatus, StepEvent, StepStatus
from runner.states import FINISHED_RUN_STATUSES, check_run_transition, check_step_transition

logger = logging.getLogger("owlgrid.runner")
RUN_KEY = ""  # the step key of run-level events
SCHEDULER_PRECISION = timedelta(seconds=1)


class LeaseLost(RuntimeError):  # noqa: N818
    """This worker no longer owns the run; whatever it was doing must be dropped."""


def _db() -> Any:
    """This thread's connection itself. `django.db.connection` is a proxy that looks the
    connection up in a context-local store on every attribute read: the journal's hot paths
    made about 180 such reads per run (preparing each value of each row), ≈ 7% of a worker's
    CPU-clock profile."""
    return connections[DEFAULT_DB_ALIAS]


def lease_delta() -> timedelta:
    return timedelta(seconds=settings.OWLGRID_LEASE_SECONDS)


def _run_event(run: Run, status: str, **fields: Any) -> StepEvent:
    return StepEvent(
        run=run,
        step_key=RUN_KEY,
        action_name="",
        action_type="run",
        status=StepStatus.NOT_STARTED if status == RunStatus.QUEUED else status,
        **fields,
    )


# --- creating and queueing ------------------------------------------------------------------


def create_run(*, claimed_by: str | None = None, defer: bool = False, **fields: Any) -> Run:
    """Insert a queued run and queue its job once the transaction commits.

    `claimed_by`: the run is inserted already leased by that executor (the web process running
    a synchronous trigger's run itself, runner/inline.py) and is not queued; if the executor
    dies, the lease expires and the sweeper queues the run for a worker like any orphan.

    `defer` (with `claimed_by`): the insert is not made here but by the executor's first write
    (`commit`, `finish` or any fenced write), in the same statement or transaction: one durable
    write fewer per run. It is for an executor that writes before anything outside the database
    can see the run: the engine writes before any step that is not pure data (an HTTP call, an
    email, a child run, a wait) and before the caller gets an answer. Until then the run exists
    only in the executor's memory, as a call still being handled does. A workflow under a
    concurrency limit is inserted at once (its slot is taken by a write of its own), and so is
    a run created inside the caller's transaction (it belongs to that transaction).
    """
    if claimed_by is None:
        run = Run(status=RunStatus.QUEUED, job_id=_new_job_id(), **fields)
        events = [_run_event(run, RunStatus.QUEUED)]
    else:
        now = timezone.now()
        run = Run(status=RunStatus.RUNNING, started_at=now, lease_owner=claimed_by,
                  lease_expires_at=now + lease_delta(), **fields)
        check_run_transition(RunStatus.QUEUED, RunStatus.RUNNING)
        events = [_run_event(run, RunStatus.QUEUED),
                  _run_event(run, RunStatus.RUNNING, worker=claimed_by)]
        if defer and not run.workflow.concurrency_limit and not connection.in_atomic_block:
            run._creation = Creation(events)  # noqa: SLF001 - the journal's own mark
            return run
    with _one_statement_or_atomic():
        _insert_run(run, events)
        if claimed_by is None:
            queueing.enqueue_on_commit(run.id, run.job_id)
        broadcast.run_status_on_commit(run)
    return run


class Creation:
    """A run's insert waiting for its executor's first write (`create_run(defer=True)`).
    `written`: the insert is made (perhaps in a transaction not committed yet); `recorded`: it
    is committed; `settled`: recorded, or given up (the insert failed)."""

    def __init__(self, events: list[StepEvent]) -> None:
        self.events = events
        self.written = False
        self.recorded = False
        self.settled = threading.Event()

    def record(self) -> None:
        self.recorded = True
        self.settled.set()


def _creation(run: Run) -> Creation | None:
    return run.__dict__.get("_creation")


def creation_pending(run: Run) -> bool:
    """Whether the run's insert is still to be written by its executor."""
    creation = _creation(run)
    return creation is not None and not creation.written


def wait_until_recorded(run: Run, timeout: float) -> bool:
    """For a caller about to hand out the run's id: wait for its deferred insert's commit;
    False if it did not come (the insert failed, or not in time)."""
    creation = _creation(run)
    return creation is None or (creation.settled.wait(timeout) and creation.recorded)


def record_creation(run: Run) -> None:
    """Insert a deferred run now, as it is, unless it is in the database already (its executor
    stopped early: a worker resumes it once the lease expires). If this fails too, whoever waits
    for the insert is told so."""
    creation = _creation(run)
    if creation is None or creation.recorded:
        return
    try:
        if Run.objects.filter(id=run.id).exists():  # written by a transaction that committed
            creation.record()
            return
        creation.written = False  # the transaction that wrote it was rolled back
        with _one_statement_or_atomic():
            _insert_created(run)
    except BaseException:
        creation.settled.set()
        raise


def _insert_created(run: Run) -> None:
    """The deferred insert on its own, with a fresh lease, in the caller's transaction."""
    run.lease_expires_at = timezone.now() + lease_delta()
    _insert_run(run, _creation(run).events)
    _created(run)


def _created(run: Run) -> None:
    """The deferred insert is written (committed with the caller's transaction)."""
    creation = _creation(run)
    creation.written = True
    run._state.adding, run._state.db = False, connection.alias
    transaction.on_commit(creation.record)
    broadcast.run_status_on_commit(run)


def _one_statement_or_atomic() -> Any:
    """PostgreSQL writes a run's creation or a step's commit as one statement, which is then its
    own transaction (autocommit: no BEGIN and COMMIT round trips; `on_commit` callbacks run as
    soon as it returns). Elsewhere, or inside a caller's transaction, an atomic block."""
    return contextlib.nullcontext() if _statements_commit_alone() else transaction.atomic()


def _statements_commit_alone() -> bool:
    """PostgreSQL outside any transaction: each statement commits on its own."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _insert_run(run: Run, events: list[StepEvent]) -> None:
    run_sql, run_params = _insert_sql(Run, [run])
    events_sql, events_params = _insert_sql(StepEvent, events)
    with _db().cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement: its own transaction
            cursor.execute(f"WITH new_run AS ({run_sql}) {events_sql}",
                           [*run_params, *events_params])
        else:  # in the caller's transaction
            cursor.execute(run_sql, run_params)
            cursor.execute(events_sql, events_params)
    run._state.adding, run._state.db = False, connection.alias


def _insert_sql(model: type, objects: list) -> tuple[str, list[Any]]:
    """The INSERT Django would run for these objects (defaults, auto_now, JSON and UUID
    adaptation: each field's own `pre_save` and `get_db_prep_save`), built here: compiling it
    with Django's `InsertQuery`, twice per run created, was ≈ 1 ms of a synchronous trigger's
    call on PostgreSQL, and the ORM's `save` and `bulk_create` as much on SQLite."""
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 - our names; values are params
           f"({', '.join(quote(field.column) for field in fields)}) VALUES "
           + ", ".join([row] * len(objects)))
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection)
              for obj in objects for field in fields]
    return sql, params


def _new_job_id() -> str:
    return f"run-{uuid.uuid4().hex}"


def requeue(run_id: Any, *, at: datetime | None = None,
            replacing: tuple[str, str] | None = None) -> bool:
    """Give the run a fresh job (after a Redis flush, a wake-up or a lost worker).

    `replacing`: (status, job id) the caller read; the run gets a job only if it still has
    both (the sweeper must not queue a run that a worker has run since it looked)."""
    job_id = _new_job_id()
    runs = Run.objects.filter(id=run_id)
    if replacing is not None:
        runs = runs.filter(status=replacing[0], job_id=replacing[1])
    if not runs.update(job_id=job_id):
        return False
    queueing.enqueue_on_commit(run_id, job_id, at=at)
    return True


# --- leases -----------------------------------------------------------------------------------


def claim(run_id: Any, worker: str) -> Run | None:
    """Take the run's lease if it is free and the run has something to do, else None."""
    claimed = claim_run(run_id, worker)
    return None if claimed is None else claimed[0]


def claim_run(run_id: Any, worker: str) -> tuple[Run, bool] | None:
    """`claim`, also telling whether the run's journal is known to be empty: its first start,
    and not a retry (whose journal starts with the steps its source completed).

    The lease, the status change (or the "resumed" event of a run whose holder died) and the
    run's loading with its workflow, environment and trigger are SQL built here: through the ORM
    (an UPDATE, a SELECT with its joins, another UPDATE and a model save) the claim was a third
    of a worker's CPU per run. On PostgreSQL it is one statement; elsewhere one transaction.
    """
    now = timezone.now()
    if _statements_commit_alone():
        row = _claim_in_one_statement(run_id, worker, now)
    else:
        with transaction.atomic():
            row = _claim_in_transaction(run_id, worker, now)
    if row is None:
        return None
    run, was, was_started = _claimed_run(row)
    broadcast.run_status_on_commit(run)
    return run, (was == RunStatus.QUEUED and was_started is None and run.retry_of_id is None)


# Every status a claim starts from may become running (checked once, at import).
for _status in (RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING):
    check_run_transition(_status, RunStatus.RUNNING)
RESUMED = {"resumed": True}


def _claimable_sql(run_id: Any, now: datetime) -> tuple[str, list[Any]]:
    """The run, if it has something to do and nobody holds it (`r` is the run table). RQ's
    scheduler keeps whole seconds and may fire up to one early; the step that parked sleeps
    whatever remains."""
    db = _db()
    at = Run._meta.get_field("lease_expires_at")
    stamp = at.get_db_prep_value(now, db)
    early = at.get_db_prep_value(now + SCHEDULER_PRECISION, db)
    sql = ("r.id = %s AND (r.status = %s OR (r.status = %s AND r.wake_at <= %s) "
           "OR (r.status = %s AND r.lease_expires_at < %s)) "
           "AND (r.lease_owner = '' OR r.lease_expires_at < %s)")
    return sql, [_db_uuid(run_id), RunStatus.QUEUED, RunStatus.WAITING, early, RunStatus.RUNNING,
                 stamp, stamp]


def _claim_joins(run: str) -> str:
    """The run's (alias `run`) workflow `w`, environment `e` and trigger `t`."""
    from environments.models import Environment
    from workflows.models import Trigger, Workflow

    return (f" JOIN {Workflow._meta.db_table} w ON w.id = {run}.workflow_id"
            f" LEFT JOIN {Environment._meta.db_table} e ON e.id = {run}.environment_id"
            f" LEFT JOIN {Trigger._meta.db_table} t ON t.id = {run}.trigger_id")


def _claim_in_one_statement(run_id: Any, worker: str, now: datetime) -> list[Any] | None:
    """PostgreSQL: lock the run if it is claimable (`FOR UPDATE` re-checks the conditions on the
    latest version of the row, so the status read is the one the UPDATE changes), lease it,
    mark it running, append its event, and read it with its joins, in one statement."""
    table = Run._meta.db_table
    claimable, params = _claimable_sql(run_id, now)
    run_columns = _columns(Run, "r")
    events = StepEvent._meta
    names = ("run", "step_key", "action_name", "action_type", "status", "attempt", "output",
             "worker", "created_at")
    target = ", ".join(events.get_field(name).column for name in names)
    resumed = "c.was = %s AND c.was_started IS NOT NULL"
    sql = (
        f"WITH old AS (SELECT r.id, r.status, r.started_at FROM {table} r "  # noqa: S608
        f"WHERE {claimable} FOR UPDATE), "
        f"claimed AS (UPDATE {table} r SET lease_owner = %s, lease_expires_at = %s, status = %s, "
        "started_at = COALESCE(r.started_at, %s) FROM old WHERE r.id = old.id "
        f"RETURNING {run_columns}, old.status AS was, old.started_at AS was_started), "
        f"event AS (INSERT INTO {events.db_table} ({target}) "
        f"SELECT c.id, '', '', 'run', %s, 1, CASE WHEN {resumed} THEN %s::jsonb END, "
        f"CASE WHEN {resumed} THEN %s ELSE '' END, %s FROM claimed c) "
        f"SELECT {_columns(Run, 'c')}, c.was, c.was_started, "
        f"{_claim_related_columns()} FROM claimed c{_claim_joins('c')}"
    )
    params += [worker, now + lease_delta(), RunStatus.RUNNING, now,
               RunStatus.RUNNING, RunStatus.RUNNING, json.dumps(RESUMED), RunStatus.RUNNING,
               worker, now]
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else list(row)


def _claim_in_transaction(run_id: Any, worker: str, now: datetime) -> list[Any] | None:
    """Inside a transaction (SQLite's is IMMEDIATE: it holds the write lock from the start):
    read the claimable run with its joins, lease it and mark it running, append its event."""
    db = _db()
    claimable, params = _claimable_sql(run_id, now)
    sql = (f"SELECT {_columns(Run, 'r')}, r.status, r.started_at, "  # noqa: S608
           f"{_claim_related_columns()} "
           f"FROM {Run._meta.db_table} r{_claim_joins('r')} WHERE {claimable}")
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        meta = Run._meta
        run = _from_row(Run, row[: len(meta.concrete_fields)])
        resumed = run.status == RunStatus.RUNNING and run.started_at is not None
        started_at = run.started_at or now
        columns = {"lease_owner": worker, "lease_expires_at": now + lease_delta(),
                   "status": RunStatus.RUNNING, "started_at": started_at}
        assignments = ", ".join(f"{meta.get_field(name).column} = %s" for name in columns)
        values = [meta.get_field(name).get_db_prep_save(value, db)
                  for name, value in columns.items()]
        cursor.execute(f"UPDATE {meta.db_table} SET {assignments} WHERE id = %s",  # noqa: S608
                       [*values, _db_uuid(run.id)])
    _insert_events(run, worker, [{
        "step_key": RUN_KEY, "action_name": "", "action_type": "run",
        "status": RunStatus.RUNNING, "output": RESUMED if resumed else None,
        "worker": worker if resumed else "",
    }])
    for index, field in enumerate(meta.concrete_fields):
        if field.name in columns:
            row[index] = _db_value(field, columns[field.name])
    return row


def _claim_related_columns() -> str:
    from environments.models import Environment
    from workflows.models import Trigger, Workflow

    return ", ".join((_columns(Workflow, "w"), _columns(Environment, "e"), _columns(Trigger, "t")))


def _claimed_run(row: list[Any]) -> tuple[Run, str, Any]:
    """The claimed run from its row (its own columns, the status and start it had, then its
    workflow's, environment's and trigger's columns, the last two possibly NULL), with the
    status and start it had."""
    from environments.models import Environment
    from workflows.models import Trigger, Workflow

    size = len(Run._meta.concrete_fields)
    run = _from_row(Run, row[:size])
    was, was_started = row[size], row[size + 1]
    offset = size + 2
    for model, name in ((Workflow, "workflow"), (Environment, "environment"), (Trigger, "trigger")):
        width = len(model._meta.concrete_fields)
        values = row[offset : offset + width]
        offset += width
        if values[0] is not None:
            setattr(run, name, _from_row(model, values))
    return run, was, was_started


def _columns(model: type, alias: str) -> str:
    return _column_list(model, alias, _db().vendor)


@functools.cache
def _column_list(model: type, alias: str, vendor: str) -> str:
    """Built once per process: the claim names every column of four tables, and joining them
    anew was ≈ 2.5% of a worker's CPU-clock profile."""
    quote = _db().ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def _from_row(model: type, values: list[Any]) -> Any:
    """A model instance from a row of its concrete columns, converted as the ORM would."""
    db = _db()
    converted = []
    for field, converters, value in zip(model._meta.concrete_fields, _converters(model, db),
                                        values, strict=True):
        for converter in converters:
            value = converter(value, field.cached_col, db)
        converted.append(value)
    return model.from_db(db.alias, None, converted)


def _db_value(field: Any, value: Any) -> Any:
    """A Python value as the database would return it (so that `_from_row` reads it back)."""
    return None if value is None else field.get_db_prep_save(value, _db())


_CONVERTERS: dict[tuple[str, type], list[list[Any]]] = {}


def _converters(model: type, db: Any) -> list[list[Any]]:
    """Each concrete field's converters from database values (the backend's, then the field's)."""
    key = (db.vendor, model)
    found = _CONVERTERS.get(key)
    if found is None:
        found = _CONVERTERS[key] = [
            [*db.ops.get_db_converters(field.cached_col), *field.get_db_converters(db)]
            for field in model._meta.concrete_fields]
    return found


def _fence(run: Run, worker: str, **columns: Any) -> bool:
    """Renew the lease inside the current transaction; returns the cancel flag.

    One round trip (UPDATE ... RETURNING, on PostgreSQL and SQLite ≥ 3.35): this runs once
    per step, so it is the engine's hot path. `columns` are other fields of the run written by
    the same statement (the next log sequence number, the response).
    """
    if creation_pending(run):
        _insert_created(run)  # then fenced as any run: same transaction
    db = _db()
    sql, params = _fence_sql(run, worker, columns)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")
    return bool(row[1])


def _fence_sql(run: Run, worker: str, columns: dict[str, Any]) -> tuple[str, list[Any]]:
    db = _db()
    meta = Run._meta
    columns = {"lease_expires_at": timezone.now() + lease_delta(), **columns}
    assignments, values = [], []
    for name, value in columns.items():
        field = meta.get_field(name)
        assignments.append(f"{field.column} = %s")
        values.append(field.get_db_prep_save(value, db))
    sql = (f"UPDATE {meta.db_table} SET {', '.join(assignments)} "  # noqa: S608 - our names
           "WHERE id = %s AND lease_owner = %s RETURNING id, cancel_requested")
    return sql, [*values, _db_uuid(run.id), worker]


def _db_uuid(value: Any) -> Any:
    """UUIDs as the backend stores them (SQLite keeps them as 32 hex characters)."""
    return Run._meta.pk.get_db_prep_value(value, _db())


def heartbeat(run: Run, worker: str) -> bool:
    creation = _creation(run)
    if creation is not None and not creation.recorded:
        return bool(run.cancel_requested)  # its lease starts with its executor's first write
    with transaction.atomic():
        return _fence(run, worker)


# --- steps and logs ---------------------------------------------------------------------------


def commit(
    run: Run,
    worker: str,
    *,
    events: list[dict[str, Any]],
    lines: list[dict[str, Any]],
    response: dict[str, Any] | None = None,
) -> bool:
    """Write step events and log lines atomically, fenced by the lease; returns the cancel flag.

    Each event dict holds step_key, action_name, action_type, status, previous (the step's
    status before), attempt, and optionally inputs, output and error.
    """
    columns = _checked_writes(events, lines, response)
    with _one_statement_or_atomic():
        if connection.vendor == "postgresql":
            cancel = _commit_in_one_statement(run, worker, events, lines, columns)
        else:
            cancel = _fence(run, worker, **columns)
            if events:
                _insert_events(run, worker, events)
            if lines:
                _insert_lines(run, lines)
        _announce(run, lines, response)
    return cancel


def _checked_writes(events: list[dict[str, Any]], lines: list[dict[str, Any]],
                    response: dict[str, Any] | None) -> dict[str, Any]:
    """Check the events' transitions (dropping `previous`); the run's columns to write with
    them: the next log sequence number, the response."""
    for event in events:
        check_step_transition(event.pop("previous", None), event["status"])
    columns: dict[str, Any] = {}
    if lines:
        columns["next_log_seq"] = lines[-1]["seq"] + 1
    if response is not None:
        columns["response"] = response
    return columns


def _announce(run: Run, lines: list[dict[str, Any]], response: dict[str, Any] | None) -> None:
    """Once committed: the lines to live viewers, the response to a waiting caller."""
    if lines:
        broadcast.log_lines_on_commit(run.id, lines)
    if response is not None:
        broadcast.run_answer_on_commit(run.id, {"response": response})


EVENT_COLUMNS = ("step_key", "action_name", "action_type", "status", "attempt", "inputs",
                 "output", "error")


def _commit_in_one_statement(run: Run, worker: str, events: list[dict[str, Any]],
                             lines: list[dict[str, Any]], columns: dict[str, Any],
                             *, release_locks: bool = False) -> Any:
    """PostgreSQL: the fence, the events and the lines in one statement (data-modifying CTEs;
    nothing is inserted unless the fence's UPDATE found the lease). A step's commit is the
    engine's hot path, and on PostgreSQL each statement is a round trip: four statements cost
    2.7 ms per step, most of it waiting for the server. The events and the lines travel as one
    JSON document each: psycopg adapted the nine arrays they were before value by value in
    Python, ≈ 0.15 ms of every commit."""
    db = _db()
    created = creation_pending(run)
    if created:
        head, params = _creation_head(run, columns)
        events = [*_creation_events(run), *events]
    else:
        fence_sql, params = _fence_sql(run, worker, columns)
        head = f"WITH fence AS ({fence_sql})"
    parts = [head]
    now = timezone.now()
    if events:
        meta = StepEvent._meta
        names = ("run", *EVENT_COLUMNS, "worker", "created_at")
        target = ", ".join(meta.get_field(name).column for name in names)
        parts.append(
            f", events AS (INSERT INTO {meta.db_table} ({target}) "  # noqa: S608 - our names
            "SELECT fence.id, e.v->>0, e.v->>1, e.v->>2, e.v->>3, (e.v->>4)::int, "
            "NULLIF(e.v->5, 'null'), NULLIF(e.v->6, 'null'), NULLIF(e.v->7, 'null'), e.v->>8, %s "
            "FROM fence, jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(v, x) "
            "ORDER BY e.x)"
        )
        params += [now, json.dumps([
            [event["step_key"], event["action_name"], event["action_type"], event["status"],
             event.get("attempt", 1), event.get("inputs"), event.get("output"),
             event.get("error"), event.get("worker", worker)] for event in events])]
    if lines:
        meta = LogLine._meta
        target = ", ".join(meta.get_field(name).column for name in LOG_COLUMNS)
        parts.append(
            f", lines AS (INSERT INTO {meta.db_table} ({target}) "  # noqa: S608 - our names
            "SELECT fence.id, (t.v->>0)::bigint, t.v->>1, t.v->>2, t.v->>3, %s "
            "FROM fence, jsonb_array_elements(%s::jsonb) AS t(v))"
        )
        params += [now, json.dumps([[line["seq"], line.get("step_key", ""),
                                     line.get("level", "info"), line["message"]]
                                    for line in lines])]
    if release_locks:
        parts.append(f", locks AS (DELETE FROM {RunLock._meta.db_table} "  # noqa: S608
                     "WHERE run_id IN (SELECT id FROM fence) RETURNING name)")
        parts.append(" SELECT cancel_requested, ARRAY(SELECT name FROM locks)")
        asks_for_watchers = _asks_for_watchers(run)
        if asks_for_watchers:
            from runner.reactions import watchers_sql

            watchers, watchers_params = watchers_sql(run.environment_id)
            parts.append(f", {watchers}")
            params += watchers_params
        parts.append(" FROM fence")
    else:
        parts.append(" SELECT cancel_requested FROM fence")
    with db.cursor() as cursor:
        cursor.execute("".join(parts), params)
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")
    if created:
        _created(run)
    if release_locks:
        return Finished(list(row[1]), bool(row[2]) if asks_for_watchers else None)
    return bool(row[0])


def _asks_for_watchers(run: Run) -> bool:
    """Whether the run's finishing write also answers the run-finished reactions' question
    (does anyone watch runs finish in its environment?), which saves a statement per run. Not
    when a caller waits for the run's answer: the question costs the write ≈ 0.35 ms of
    planning, while asked on its own it waits until the answer is out."""
    return run.environment_id is not None and not _caller_may_wait(run)


@dataclass
class Finished:
    """What a run's finishing write found: the locks it released, and whether anyone watches
    runs finish in its environment (None: not asked)."""

    released: list[str]
    watched: bool | None = None


def _creation_head(run: Run, columns: dict[str, Any]) -> tuple[str, list[Any]]:
    """PostgreSQL, a deferred run's first write: the run is inserted with the columns this
    write sets (no one else can hold its lease yet), and stands in for the fence."""
    for name, value in {"lease_expires_at": timezone.now() + lease_delta(), **columns}.items():
        setattr(run, name, value)
    run_sql, params = _insert_sql(Run, [run])
    return (f"WITH new_run AS ({run_sql} RETURNING id, cancel_requested), "  # noqa: S608
            "fence AS (SELECT id, cancel_requested FROM new_run)"), params


def _creation_events(run: Run) -> list[dict[str, Any]]:
    """The deferred run's own events (queued, running), as the write's event rows."""
    return [{"step_key": event.step_key, "action_name": event.action_name,
             "action_type": event.action_type, "status": str(event.status),
             "attempt": event.attempt, "worker": event.worker}
            for event in _creation(run).events]


def _insert_events(run: Run, worker: str, events: list[dict[str, Any]]) -> None:
    """SQLite: the events by one multi-row INSERT built here (`bulk_create` spent ≈ 0.5 ms per
    step building two model instances and compiling their INSERT: a third of a step). Only
    values that need it go through their field's preparation (JSON, the run's UUID, the time):
    preparing all twelve columns of each event was half of this function's time."""
    db = _db()
    meta = StepEvent._meta
    names = ("run", *EVENT_COLUMNS, "worker", "created_at")
    fields = [meta.get_field(name) for name in names]
    same = {"run": _db_uuid(run.id),
            "created_at": meta.get_field("created_at").get_db_prep_save(timezone.now(), db)}
    values: list[Any] = []
    for event in events:
        row = {"worker": worker, "attempt": 1, "inputs": None, "output": None, "error": None,
               **event, **same}
        for name, field in zip(names, fields, strict=True):
            value = row[name]
            if name not in same and not (name in PLAIN_EVENT_COLUMNS
                                         and type(value) in (str, int)):
                value = field.get_db_prep_save(value, db)
            values.append(value)
    placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {meta.db_table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
            "VALUES " + ", ".join([placeholders] * len(events)),
            values,
        )


# Text and integer columns: a plain str or int is stored as it is.
PLAIN_EVENT_COLUMNS = frozenset({"step_key", "action_name", "action_type", "status", "attempt",
                                 "worker"})


def _line_arrays(lines: list[dict[str, Any]]) -> list[list[Any]]:
    return [[line["seq"] for line in lines],
            [line.get("step_key", "") for line in lines],
            [line.get("level", "info") for line in lines],
            [line["message"] for line in lines]]


LOG_COLUMNS = ("run", "seq", "step_key", "level", "message", "created_at")


def _insert_lines(run: Run, lines: list[dict[str, Any]]) -> None:
    """Log lines are written by SQL built here, not `bulk_create`: a model instance per line
    cost about 70 µs, so a 500-line burst held the worker (and its live viewers) for 35 ms.
    (PostgreSQL writes them inside `_commit_in_one_statement`, as one JSON document: a 500-row
    VALUES list cost psycopg 15 ms just to parse its 3,000 placeholders.)"""
    db = _db()
    meta = LogLine._meta
    columns = ", ".join(meta.get_field(name).column for name in LOG_COLUMNS)
    created_at = meta.get_field("created_at").get_db_prep_save(timezone.now(), db)
    run_id = _db_uuid(run.id)
    with db.cursor() as cursor:
        rows = list(zip(*_line_arrays(lines), strict=True))
        size = max(1, db.ops.bulk_batch_size(list(LOG_COLUMNS), rows))
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            cursor.execute(
                f"INSERT INTO {meta.db_table} ({columns}) VALUES "  # noqa: S608 - our names
                + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk)),
                [value for row in chunk for value in (run_id, *row, created_at)],
            )


# --- run status -------------------------------------------------------------------------------


def _set_run_status(run: Run, status: str, **fields: Any) -> None:
    check_run_transition(run.status, status)
    now = timezone.now()
    run.status = status
    if status == RunStatus.RUNNING and run.started_at is None:
        run.started_at = now
        fields["started_at"] = now
    if status in FINISHED_RUN_STATUSES:
        run.finished_at = now
        fields["finished_at"] = now
    for name, value in fields.items():
        setattr(run, name, value)
    Run.objects.filter(id=run.id).update(status=status, **fields)
    _run_event(run, status, output=fields.get("result"), error=fields.get("error")).save()


def park(run: Run, worker: str, *, until: datetime | None, reason: str) -> None:
    """Release the worker: the run waits in the database until its deadline or a wake-up."""
    with transaction.atomic():
        _fence(run, worker)
        _set_run_status(
            run,
            RunStatus.WAITING,
            wake_at=until,
            status_reason=reason[:200],
            waiting_since=run.waiting_since or timezone.now(),
            lease_owner="",
            lease_expires_at=None,
        )
        if until is not None:
            requeue(run.id, at=until)
        elif already_due(run, reason):
            wake(run.id)  # what it waits for happened while it was parking
        broadcast.run_status_on_commit(run)


def finish(
    run: Run,
    worker: str | None,
    *,
    status: str,
    result: Any = None,
    error: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    lines: list[dict[str, Any]] | None = None,
    response: dict[str, Any] | None = None,
) -> None:
    """End the run, free its locks and wake whoever waited on it.

    `events`, `lines`, `response`: the executor's last writes (its last step's), committed
    with the run's end by the same fenced write, as `commit` would have, one write earlier.
    """
    events, lines = events or [], lines or []
    if worker is None and (events or lines or response is not None):
        raise ValueError("only the run's executor writes its steps: a worker is needed")
    columns = _checked_writes(events, lines, response)
    fields = {"result": result, "error": error, "status_reason": "", "wake_at": None,
              "holds_slot": False, "lease_owner": "", "lease_expires_at": None, **columns}
    if worker is not None and _finishes_in_one_statement(run):
        finished = _finish_fenced(run, worker, status, fields, events, lines)
        _announce(run, lines, response)  # committed already: sent at once
        with transaction.atomic():  # no round trip unless a waiter is woken
            _after_finish(run, status, error, finished)
        return
    with transaction.atomic():
        if worker is not None:
            finished = _finish_fenced(run, worker, status, fields, events, lines)
            _announce(run, lines, response)
        else:
            _set_run_status(run, status, **fields)
            finished = Finished(_release_locks(run))
        _after_finish(run, status, error, finished)


def _finishes_in_one_statement(run: Run) -> bool:
    """PostgreSQL, a run nobody waits on under a concurrency limit or as a parent: the fence,
    the status, its event and the release of its locks are one statement (a waiter on a
    released lock is woken right after; the sweeper wakes it if this process dies between)."""
    return (_statements_commit_alone() and not run.workflow.concurrency_limit
            and not run.parent_run_id)


def _finish_fenced(run: Run, worker: str, status: str, fields: dict[str, Any],
                   events: list[dict[str, Any]], lines: list[dict[str, Any]]) -> Finished:
    """The fence (which writes the run's end), the last step's events and lines, the status
    event and the release of the run's locks, by SQL built here; returns the released locks'
    names (and on PostgreSQL whether anyone watches runs finish in its environment). On
    PostgreSQL one statement; on SQLite three or four, in the caller's transaction (through
    the ORM the finish cost ≈ 2 ms of a worker's CPU per run)."""
    check_run_transition(run.status, status)
    now = timezone.now()
    fields = {**fields, "status": status, "finished_at": now}
    event = {"step_key": RUN_KEY, "action_name": "", "action_type": "run", "status": status,
             "attempt": 1, "inputs": None, "output": fields["result"], "error": fields["error"]}
    if connection.vendor == "postgresql":
        finished = _commit_in_one_statement(run, worker, [*events, event], lines, fields,
                                            release_locks=True)
    else:
        _fence(run, worker, **fields)
        _insert_events(run, worker, [*events, event])
        if lines:
            _insert_lines(run, lines)
        finished = Finished(_release_locks(run))
    for name, value in fields.items():
        setattr(run, name, value)
    return finished


def _after_finish(run: Run, status: str, error: dict[str, Any] | None,
                  finished: Finished) -> None:
    """Inside the finishing transaction: wake the waiters, tell the viewers and the caller."""
    for name in finished.released:
        wake_first_waiter(reason=f"lock:{name}")
    if run.workflow.concurrency_limit:
        wake_first_waiter(reason="concurrency", workflow_id=run.workflow_id)
    if run.parent_run_id:
        wake(run.parent_run_id)
    broadcast.run_status_on_commit(run)
    if _caller_may_wait(run):  # for a run that never responded
        broadcast.run_answer_on_commit(run.id, {"status": status, "error": error})
    # Reactions watch runs in an environment only; the finishing write may know nobody does.
    if run.environment_id is not None and finished.watched is not False:
        transaction.on_commit(lambda: _react_to_finish(run.id, run.environment_id))


def _caller_may_wait(run: Run) -> bool:
    """Whether a synchronous HTTP caller may wait for this run's end. A run whose trigger is
    known (a worker's claim loads it) and asynchronous has no waiter: its caller got a 202, and
    pushing its end to Redis cost the worker a round trip per run for nobody."""
    if run.trigger_type != "http":
        return False
    if Run.trigger.is_cached(run) and run.trigger is not None:
        return (run.trigger.settings or {}).get("mode", "async") == "sync"
    return True


def _release_locks(run: Run) -> list[str]:
    """Delete the run's locks and return their names, in one statement (run at every finish,
    when most runs hold none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {RunLock._meta.db_table} WHERE run_id = %s RETURNING name",  # noqa: S608
            [_db_uuid(run.id)],
        )
        return [row[0] for row in cursor.fetchall()]


def already_due(run: Run, reason: str) -> bool:
    if reason.startswith("child:"):
        child_id = reason.split(":", 1)[1]
        return Run.objects.filter(id=child_id, status__in=FINISHED_RUN_STATUSES).exists()
    if reason.startswith("lock:"):
        return not RunLock.objects.filter(name=reason.split(":", 1)[1]).exists() and not (
            Run.objects.filter(
                status=RunStatus.WAITING, status_reason=reason, waiting_since__lt=run.waiting_since
            ).exclude(id=run.id).exists()
        )
    if reason == "concurrency":
        return not concurrency_blocked(run)
    return False


def _react_to_finish(run_id: Any, environment_id: Any) -> None:
    from runner.reactions import run_finished

    try:
        run_finished(run_id, environment_id)
    except Exception:  # noqa: BLE001 - a reaction must never break the run that ended
        logger.warning("run-event triggers for %s failed", run_id, exc_info=True)


def wake(run_id: Any) -> bool:
    """Make a waiting run due now and queue it; False when it was not waiting."""
    woken = Run.objects.filter(id=run_id, status=RunStatus.WAITING).update(
        wake_at=timezone.now()
    )
    if woken:
        requeue(run_id)
    return bool(woken)


def wake_first_waiter(*, reason: str, workflow_id: Any = None) -> None:
    waiters = Run.objects.filter(status=RunStatus.WAITING, status_reason=reason)
    if workflow_id is not None:
        waiters = waiters.filter(workflow_id=workflow_id)
    order = ("created_at",) if reason == "concurrency" else ("waiting_since", "created_at")
    first = waiters.order_by(*order).values_list("id", flat=True).first()
    if first is not None:
        wake(first)


def request_cancel(run: Run, *, user: Any = None) -> bool:
    """Cancel a waiting or queued run at once; a running one stops at its next step boundary."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("workflow").get(id=run.id)
        if run.is_finished:
            return False
        Run.objects.filter(id=run.id).update(cancel_requested=True)
        run.cancel_requested = True
        lease_free = not run.lease_owner or (
            run.lease_expires_at is not None and run.lease_expires_at < timezone.now()
        )
        if run.status in {RunStatus.WAITING, RunStatus.QUEUED} and lease_free:
            finish(run, None, status=RunStatus.CANCELLED, error={"type": "cancelled",
                   "message": f"cancelled by {getattr(user, 'username', 'the system')}",
                   "retryable": False})
    return True


# --- locks and concurrency limits ---------------------------------------------------------------


def try_acquire_lock(run: Run, name: str, step_key: str) -> bool:
    """Take a named lock unless another run holds it or has waited for it longer (FIFO)."""
    held = RunLock.objects.filter(name=name).values_list("run_id", flat=True).first()
    if held is not None:
        return held == run.id
    waiters = Run.objects.filter(status=RunStatus.WAITING, status_reason=f"lock:{name}").exclude(
        id=run.id
    )
    if run.waiting_since is not None:
        waiters = waiters.filter(waiting_since__lt=run.waiting_since)
    if waiters.exists():
        return False
    try:
        with transaction.atomic():
            RunLock.objects.create(name=name, run=run, step_key=step_key)
            Run.objects.filter(id=run.id).update(waiting_since=None)
    except IntegrityError:
        return False
    run.waiting_since = None
    return True


def release_lock(run: Run, name: str) -> None:
    with transaction.atomic():
        if RunLock.objects.filter(name=name, run=run).delete()[0]:
            wake_first_waiter(reason=f"lock:{name}")


def take_concurrency_slot(run: Run) -> bool:
    """Whether the run may start under its workflow's concurrency limit, oldest run first."""
    if not run.workflow.concurrency_limit or run.holds_slot:
        return True
    with transaction.atomic():
        # Serialise starters of one workflow; on SQLite the IMMEDIATE transaction already does.
        type(run.workflow).objects.select_for_update().filter(id=run.workflow_id).first()
        if concurrency_blocked(run):
            return False
        Run.objects.filter(id=run.id).update(holds_slot=True)
    run.holds_slot = True
    return True


def concurrency_blocked(run: Run) -> bool:
    """Every slot is taken, or an older run of the workflow has not had its turn yet."""
    same_workflow = Run.objects.filter(workflow_id=run.workflow_id)
    if same_workflow.filter(holds_slot=True).count() >= run.workflow.concurrency_limit:
        return True
    older_pending = same_workflow.filter(
        Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        | Q(status=RunStatus.WAITING, status_reason="concurrency"),
        holds_slot=False,
        created_at__lt=run.created_at,
    ).exclude(id=run.id)
    return older_pending.exists()


# --- approvals ---------------------------------------------------------------------------------


def record_decision(run_id: Any, step_key: str, decision: dict[str, Any]) -> bool:
    """Store an approval decision on a waiting approval step, once; then wake the run."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(id=run_id)
        latest = (
            StepEvent.objects.filter(run=run, step_key=step_key).order_by("-id").first()
        )
        if (
            run.status != RunStatus.WAITING
            or latest is None
            or latest.status != StepStatus.WAITING
            or (latest.output or {}).get("state", {}).get("decision")
        ):
            return False
        state = {**(latest.output or {}).get("state", {}), "decision": decision}
        event_like(latest, run=run, output={"state": state}).save()
        wake(run.id)
    return True


def event_like(event: StepEvent, **changes: Any) -> StepEvent:
    """A new event for the same step, with some fields changed."""
    fields = {"run": event.run, "step_key": event.step_key, "action_name": event.action_name,
              "action_type": event.action_type, "status": str(event.status),
              "attempt": event.attempt, "inputs": event.inputs, "output": event.output}
    return StepEvent(**{**fields, **changes})


@transaction.atomic
def copy_completed_steps(*, source: Run, target: Run) -> None:
    """Seed a retry's journal with the leaf steps its source run completed (they won't rerun).

    Structural steps run again so that they reach the step that failed inside them.
    """
    actions = (target.plan or {}).get("actions", {})
    latest: dict[str, StepEvent] = {}
    for event in StepEvent.objects.filter(run=source).exclude(step_key="").order_by("id"):
        latest[event.step_key] = event
    StepEvent.objects.bulk_create(
        event_like(event, run=target, worker="copied")
        for event in latest.values()
        if event.status == StepStatus.COMPLETED and event.action_name in actions
        and not actions[event.action_name]["children"]
    )


def fail_without_lease(run: Run, error: dict[str, Any]) -> None:
    """Fail a run that cannot start at all (its plan does not compile)."""
    with transaction.atomic():
        _set_run_status(run, RunStatus.FAILED, error=error, lease_owner="", lease_expires_at=None)
        broadcast.run_status_on_commit(run)
