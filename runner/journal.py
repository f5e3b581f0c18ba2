"""The journal: the only module that writes runs, step events and log lines (taskflow's storage).

Every write made on behalf of an executing run is fenced by its lease: the transaction first
renews the lease with `UPDATE ... WHERE lease_owner = me`, and if that touches no row the worker
lost the run (a zombie) and nothing it computed is kept. Queueing and live broadcasts happen
only after commit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
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


def create_run(*, claimed_by: str | None = None, **fields: Any) -> Run:
    """Insert a queued run and queue its job once the transaction commits.

    `claimed_by`: the run is inserted already leased by that executor (the web process running
    a synchronous trigger's run itself, runner/inline.py) and is not queued; if the executor
    dies, the lease expires and the sweeper queues the run for a worker like any orphan.
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
    with _one_statement_or_atomic():
        _insert_run(run, events)
        if claimed_by is None:
            queueing.enqueue_on_commit(run.id, run.job_id)
        broadcast.run_status_on_commit(run)
    return run


def _one_statement_or_atomic() -> Any:
    """PostgreSQL writes a run's creation or a step's commit as one statement, which is then its
    own transaction (autocommit: no BEGIN and COMMIT round trips; `on_commit` callbacks run as
    soon as it returns). Elsewhere, or inside a caller's transaction, an atomic block."""
    return contextlib.nullcontext() if _statements_commit_alone() else transaction.atomic()


def _statements_commit_alone() -> bool:
    """PostgreSQL outside any transaction: each statement commits on its own."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _insert_run(run: Run, events: list[StepEvent]) -> None:
    if connection.vendor != "postgresql":
        run.save(force_insert=True)
        StepEvent.objects.bulk_create(events)
        return
    run_sql, run_params = _insert_sql(Run, [run])
    events_sql, events_params = _insert_sql(StepEvent, events)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH new_run AS ({run_sql}) {events_sql}", [*run_params, *events_params])
    run._state.adding, run._state.db = False, connection.alias


def _insert_sql(model: type, objects: list) -> tuple[str, list[Any]]:
    """The INSERT Django would run for these objects (defaults, auto_now, JSON adaptation)."""
    from django.db.models.sql import InsertQuery

    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    query = InsertQuery(model)
    query.insert_values(fields, objects)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def _new_job_id() -> str:
    return f"run-{uuid.uuid4().hex}"


def requeue(run_id: Any, *, at: datetime | None = None) -> None:
    """Give the run a fresh job (after a Redis flush, a wake-up or a lost worker)."""
    job_id = _new_job_id()
    Run.objects.filter(id=run_id).update(job_id=job_id)
    queueing.enqueue_on_commit(run_id, job_id, at=at)


# --- leases -----------------------------------------------------------------------------------


def claim(run_id: Any, worker: str) -> Run | None:
    """Take the run's lease if it is free and the run has something to do, else None."""
    now = timezone.now()
    runnable = (
        Q(status=RunStatus.QUEUED)
        # RQ's scheduler keeps whole seconds and may fire up to one early; the step that
        # parked sleeps whatever remains.
        | Q(status=RunStatus.WAITING, wake_at__lte=now + SCHEDULER_PRECISION)
        | Q(status=RunStatus.RUNNING, lease_expires_at__lt=now)
    )
    free = Q(lease_owner="") | Q(lease_expires_at__lt=now)
    with transaction.atomic():
        taken = (
            Run.objects.filter(runnable & free, id=run_id)
            .exclude(status__in=FINISHED_RUN_STATUSES)
            .update(lease_owner=worker, lease_expires_at=now + lease_delta())
        )
        if not taken:
            return None
        run = Run.objects.select_related("workflow", "version", "environment").get(id=run_id)
        if run.status != RunStatus.RUNNING or run.started_at is None:
            _set_run_status(run, RunStatus.RUNNING)
        else:
            _run_event(run, RunStatus.RUNNING, worker=worker, output={"resumed": True}).save()
    broadcast.run_status_on_commit(run)
    return run


def _fence(run: Run, worker: str, **columns: Any) -> bool:
    """Renew the lease inside the current transaction; returns the cancel flag.

    One round trip (UPDATE ... RETURNING, on PostgreSQL and SQLite ≥ 3.35): this runs once
    per step, so it is the engine's hot path. `columns` are other fields of the run written by
    the same statement (the next log sequence number, the response).
    """
    sql, params = _fence_sql(run, worker, columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")
    return bool(row[1])


def _fence_sql(run: Run, worker: str, columns: dict[str, Any]) -> tuple[str, list[Any]]:
    meta = Run._meta
    columns = {"lease_expires_at": timezone.now() + lease_delta(), **columns}
    assignments, values = [], []
    for name, value in columns.items():
        field = meta.get_field(name)
        assignments.append(f"{field.column} = %s")
        values.append(field.get_db_prep_save(value, connection))
    sql = (f"UPDATE {meta.db_table} SET {', '.join(assignments)} "  # noqa: S608 - our names
           "WHERE id = %s AND lease_owner = %s RETURNING id, cancel_requested")
    return sql, [*values, _db_uuid(run.id), worker]


def _db_uuid(value: Any) -> Any:
    """UUIDs as the backend stores them (SQLite keeps them as 32 hex characters)."""
    return Run._meta.pk.get_db_prep_value(value, connection)


def heartbeat(run: Run, worker: str) -> bool:
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
    for event in events:
        check_step_transition(event.pop("previous", None), event["status"])
    columns: dict[str, Any] = {}
    if lines:
        columns["next_log_seq"] = lines[-1]["seq"] + 1
    if response is not None:
        columns["response"] = response
    with _one_statement_or_atomic():
        if connection.vendor == "postgresql":
            cancel = _commit_in_one_statement(run, worker, events, lines, columns)
        else:
            cancel = _fence(run, worker, **columns)
            if events:
                _insert_events(run, worker, events)
            if lines:
                _insert_lines(run, lines)
        if lines:
            broadcast.log_lines_on_commit(run.id, lines)
        if response is not None:
            broadcast.run_answer_on_commit(run.id, {"response": response})
    return cancel


EVENT_COLUMNS = ("step_key", "action_name", "action_type", "status", "attempt", "inputs",
                 "output", "error")


def _commit_in_one_statement(run: Run, worker: str, events: list[dict[str, Any]],
                             lines: list[dict[str, Any]], columns: dict[str, Any],
                             *, release_locks: bool = False) -> Any:
    """PostgreSQL: the fence, the events and the lines in one statement (data-modifying CTEs;
    nothing is inserted unless the fence's UPDATE found the lease). A step's commit is the
    engine's hot path, and on PostgreSQL each statement is a round trip: four statements cost
    2.7 ms per step, most of it waiting for the server."""
    fence_sql, params = _fence_sql(run, worker, columns)
    parts = [f"WITH fence AS ({fence_sql})"]
    now = timezone.now()
    if events:
        meta = StepEvent._meta
        names = ("run", *EVENT_COLUMNS, "worker", "created_at")
        target = ", ".join(meta.get_field(name).column for name in names)
        parts.append(
            f", events AS (INSERT INTO {meta.db_table} ({target}) "  # noqa: S608 - our names
            "SELECT fence.id, e.k, e.n, e.t, e.s, e.a, e.i::jsonb, e.o::jsonb, e.r::jsonb, %s, %s "
            "FROM fence, unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], "
            "%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS e(k, n, t, s, a, i, o, r, x) "
            "ORDER BY e.x)"
        )
        params += [worker, now,
                   *([event[name] for event in events] for name in EVENT_COLUMNS[:4]),
                   [event.get("attempt", 1) for event in events],
                   *([_json_or_null(event.get(name)) for event in events]
                     for name in ("inputs", "output", "error"))]
    if lines:
        meta = LogLine._meta
        target = ", ".join(meta.get_field(name).column for name in LOG_COLUMNS)
        parts.append(
            f", lines AS (INSERT INTO {meta.db_table} ({target}) "  # noqa: S608 - our names
            "SELECT fence.id, t.s, t.k, t.l, t.m, %s FROM fence, unnest(%s::bigint[], "
            "%s::text[], %s::text[], %s::text[]) AS t(s, k, l, m))"
        )
        params += [now, *_line_arrays(lines)]
    if release_locks:
        parts.append(f", locks AS (DELETE FROM {RunLock._meta.db_table} "  # noqa: S608
                     "WHERE run_id IN (SELECT id FROM fence) RETURNING name)")
        parts.append(" SELECT cancel_requested, ARRAY(SELECT name FROM locks) FROM fence")
    else:
        parts.append(" SELECT cancel_requested FROM fence")
    with connection.cursor() as cursor:
        cursor.execute("".join(parts), params)
        row = cursor.fetchone()
    if row is None:
        raise LeaseLost(f"worker {worker} lost the lease of run {run.id}")
    return list(row[1]) if release_locks else bool(row[0])


def _insert_events(run: Run, worker: str, events: list[dict[str, Any]]) -> None:
    """SQLite: the events by one multi-row INSERT built here (`bulk_create` spent ≈ 0.5 ms per
    step building two model instances and compiling their INSERT: a third of a step)."""
    meta = StepEvent._meta
    names = ("run", *EVENT_COLUMNS, "worker", "created_at")
    fields = [meta.get_field(name) for name in names]
    now = timezone.now()
    values: list[Any] = []
    for event in events:
        row = {"run": run.id, "worker": worker, "created_at": now, "attempt": 1, "inputs": None,
               "output": None, "error": None, **event}
        values.extend(field.get_db_prep_save(row[name], connection)
                      for name, field in zip(names, fields, strict=True))
    placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {meta.db_table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
            "VALUES " + ", ".join([placeholders] * len(events)),
            values,
        )


def _json_or_null(value: Any) -> str | None:
    """A JSONField's value as PostgreSQL receives it (None is SQL NULL, as Django stores it)."""
    return None if value is None else json.dumps(value)


def _line_arrays(lines: list[dict[str, Any]]) -> list[list[Any]]:
    return [[line["seq"] for line in lines],
            [line.get("step_key", "") for line in lines],
            [line.get("level", "info") for line in lines],
            [line["message"] for line in lines]]


LOG_COLUMNS = ("run", "seq", "step_key", "level", "message", "created_at")


def _insert_lines(run: Run, lines: list[dict[str, Any]]) -> None:
    """Log lines are written by SQL built here, not `bulk_create`: a model instance per line
    cost about 70 µs, so a 500-line burst held the worker (and its live viewers) for 35 ms.
    (PostgreSQL writes them inside `_commit_in_one_statement`, over arrays: a 500-row VALUES
    list cost psycopg 15 ms just to parse its 3,000 placeholders.)"""
    meta = LogLine._meta
    columns = ", ".join(meta.get_field(name).column for name in LOG_COLUMNS)
    created_at = meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    run_id = _db_uuid(run.id)
    with connection.cursor() as cursor:
        rows = list(zip(*_line_arrays(lines), strict=True))
        size = max(1, connection.ops.bulk_batch_size(list(LOG_COLUMNS), rows))
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
) -> None:
    """End the run, free its locks and wake whoever waited on it."""
    fields = {"result": result, "error": error, "status_reason": "", "wake_at": None,
              "holds_slot": False, "lease_owner": "", "lease_expires_at": None}
    if worker is not None and _finishes_in_one_statement(run):
        released = _finish_in_one_statement(run, worker, status, fields)
        with transaction.atomic():  # no round trip unless a waiter is woken
            _after_finish(run, status, error, released)
        return
    with transaction.atomic():
        if worker is not None:
            _fence(run, worker)
        _set_run_status(run, status, **fields)
        _after_finish(run, status, error, _release_locks(run))


def _finishes_in_one_statement(run: Run) -> bool:
    """PostgreSQL, a run nobody waits on under a concurrency limit or as a parent: the fence,
    the status, its event and the release of its locks are one statement (a waiter on a
    released lock is woken right after; the sweeper wakes it if this process dies between)."""
    return (_statements_commit_alone() and not run.workflow.concurrency_limit
            and not run.parent_run_id)


def _finish_in_one_statement(run: Run, worker: str, status: str,
                             fields: dict[str, Any]) -> list[str]:
    check_run_transition(run.status, status)
    now = timezone.now()
    fields = {**fields, "status": status, "finished_at": now}
    event = {"step_key": RUN_KEY, "action_name": "", "action_type": "run", "status": status,
             "attempt": 1, "inputs": None, "output": fields["result"], "error": fields["error"]}
    released = _commit_in_one_statement(run, worker, [event], [], fields, release_locks=True)
    run.status, run.finished_at = status, now
    for name, value in fields.items():
        setattr(run, name, value)
    return released


def _after_finish(run: Run, status: str, error: dict[str, Any] | None,
                  released: list[str]) -> None:
    """Inside the finishing transaction: wake the waiters, tell the viewers and the caller."""
    for name in released:
        wake_first_waiter(reason=f"lock:{name}")
    if run.workflow.concurrency_limit:
        wake_first_waiter(reason="concurrency", workflow_id=run.workflow_id)
    if run.parent_run_id:
        wake(run.parent_run_id)
    broadcast.run_status_on_commit(run)
    if run.trigger_type == "http":
        # A synchronous caller may be waiting (for a run that never responded).
        broadcast.run_answer_on_commit(run.id, {"status": status, "error": error})
    if run.environment_id is not None:  # reactions watch runs in an environment only
        transaction.on_commit(lambda: _react_to_finish(run.id, run.environment_id))


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
              "action_type": event.action_type, "status": event.status,
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
