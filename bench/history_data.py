"""A stored history of finished runs, made in seconds: HISTORY_RUNS runs with their step events
and log lines, created over the last HISTORY_DAYS and spread over the benchmarked workflows
(OWN_SHARE runs each) and OTHER_WORKFLOWS others (the rest, evenly), their runs interleaved in
time. Every workflow stays inside the default retention (30 days, 10,000 runs per workflow)
even with the runs the benchmark adds, so the measured phase is a steady state rather than a
first prune.

Each run is a copy of a real run the benchmark executed (its plan, input and log lines as the
engine wrote them, and the final event of each of its three steps), under a new id and new
timestamps, made by the database itself: one INSERT ... SELECT over a recursive series of
numbers per workflow, then one per child table and template. The ORM would take minutes, and
`bulk_create` stamps `created_at` itself (`auto_now_add`). Copies carry `job_id = MARKER +
the template's workflow name`, which is how their child rows find them.

Three step events per run rather than the nine the engine writes for these runs (the run's own
three and each step's start): every child row costs PostgreSQL a foreign-key check at commit,
and nine made the history take over a minute there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

HISTORY_RUNS = 100_000
HISTORY_DAYS = 25
OWN_SHARE = 5_000
OTHER_WORKFLOWS = 10
STARTED_AFTER = 0.005  # seconds from a copy's creation to its start
FINISHED_AFTER = 0.05  # ... and to its end
MARKER = "bench-history-"
SERIES = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
SQLITE_CACHE_KIB = 256 * 1024  # the copies' random ids land all over the indexes
CHILD_ROWS = {"runner.StepEvent": "c.step_key <> '' AND c.status = 'completed'",
              "runner.LogLine": "1 = 1"}


@dataclass(frozen=True)
class Share:
    """`count` copies of `template` (a finished run), under a workflow's version and trigger."""

    template: Any
    workflow_id: Any
    version_id: Any
    trigger_id: Any
    count: int


@dataclass(frozen=True)
class Spacing:
    """Copy i of a share is created at start + offset + i × step seconds."""

    start: datetime
    offset: float
    step: float


def uuid_sql(vendor: str) -> str:
    """A new random id, in the form Django stores UUIDs in (32 hex digits on SQLite)."""
    return "gen_random_uuid()" if vendor == "postgresql" else "lower(hex(randomblob(16)))"


def moment_sql(vendor: str, seconds: str) -> str:
    """A timestamp: a start (the first parameter) plus `seconds` (an SQL expression), in the
    form Django stores it."""
    if vendor == "postgresql":
        return f"(CAST(%s AS timestamptz) + ({seconds}) * interval '1 second')"
    # Six decimals, as Django writes them: text comparison ranks '…00.123' below '…00.123000'.
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || ({seconds}) || ' seconds') || '000'"


def db_value(field_name: str, value: Any) -> Any:
    """A run column's value as the database driver takes it (UUIDs are text on SQLite)."""
    from django.db import connection

    from runner.models import Run

    field = Run._meta.get_field(field_name)
    target = field.target_field if field.is_relation else field
    return target.get_db_prep_value(value, connection)


def run_copy_value(share: Share, column: str, spacing: Spacing) -> tuple[str, list[Any]]:
    """Copy n.i's value of one column: a new id, its own timestamps, the share's workflow,
    version, trigger and marker, else the template's (`t`)."""
    from django.db import connection

    after = {"created_at": 0.0, "started_at": STARTED_AFTER, "finished_at": FINISHED_AFTER}
    fixed = {"workflow_id": db_value("workflow", share.workflow_id),
             "version_id": db_value("version", share.version_id),
             "trigger_id": db_value("trigger", share.trigger_id),
             "job_id": MARKER + share.template.workflow.name}
    if column == "id":
        return uuid_sql(connection.vendor), []
    if column in after:
        start = connection.ops.adapt_datetimefield_value(spacing.start)
        return (moment_sql(connection.vendor, "%s + n.i * %s + %s"),
                [start, spacing.offset, spacing.step, after[column]])
    if column in fixed:
        return "%s", [fixed[column]]
    return f"t.{connection.ops.quote_name(column)}", []


def run_copies_sql(share: Share, spacing: Spacing) -> tuple[str, list[Any]]:
    """One INSERT ... SELECT making the share's copies of its template."""
    from runner.models import Run

    columns = [field.column for field in Run._meta.concrete_fields]
    values, params = [], []
    for column in columns:
        value, value_params = run_copy_value(share, column, spacing)
        values.append(value)
        params += value_params
    table = Run._meta.db_table
    sql = (SERIES + f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
           f"SELECT {', '.join(values)} FROM n, {table} t WHERE t.id = %s")
    return sql, [share.count - 1, *params, db_value("id", share.template.id)]


def child_copies_sql(model: type, template: Any) -> tuple[str, list[Any]]:
    """One INSERT ... SELECT giving every copy of `template` the template's rows of `model`
    (its steps' final events, or its log lines), stamped with the copy's end; in the copies' id
    order, so that the indexes on run_id grow at one end rather than at random."""
    from django.db import connection

    from runner.models import Run

    columns = [field.column for field in model._meta.concrete_fields if field.column != "id"]
    values = [{"run_id": "r.id", "created_at": "r.finished_at"}.get(
        column, f"c.{connection.ops.quote_name(column)}") for column in columns]
    table = model._meta.db_table
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
           f"SELECT {', '.join(values)} FROM {Run._meta.db_table} r JOIN {table} c "
           f"ON c.run_id = %s AND {CHILD_ROWS[model._meta.label]} WHERE r.job_id = %s "
           "ORDER BY r.id, c.id")
    return sql, [db_value("id", template.id), MARKER + template.workflow.name]


def other_workflow(name: str) -> Any:
    """The published version of a new async workflow of three steps, deployed in `bench`."""
    from environments.models import Deployment, Environment
    from workflows.format import workflow_import

    environment = Environment.objects.get(name="bench")
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": name,
        "triggers": [{"name": "hook", "type": "http", "settings": {"mode": "async"},
                      "access": {"mode": "public"}}],
        "actions": [{"name": f"s{index}", "type": "log", "inputs": {"message": "x"}}
                    for index in range(3)],
    }, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environment,
                              version=version)
    return version


def shares(templates: list[Any], total: int, own_share: int = OWN_SHARE,
           other_workflows: int = OTHER_WORKFLOWS) -> list[Share]:
    """`own_share` copies of each template under its own workflow, and the rest of `total`
    split over `other_workflows` new workflows, as copies of the first template."""
    rest = total - own_share * len(templates)
    if rest < other_workflows:
        raise ValueError(f"{total} runs leave too few for {other_workflows} other workflows")
    own = [Share(run, run.workflow_id, run.version_id, run.trigger_id, own_share)
           for run in templates]
    others = [other_workflow(f"bench-history-{index}") for index in range(other_workflows)]
    return own + [Share(templates[0], version.workflow_id, version.id,
                        version.triggers.get().id, len(range(index, rest, len(others))))
                  for index, version in enumerate(others)]


def spacings(split: list[Share], end: datetime) -> list[Spacing]:
    """Each share's copies evenly over the HISTORY_DAYS before `end`, the shares staggered so
    that their runs interleave."""
    span = HISTORY_DAYS * 86400
    start = end - timedelta(seconds=span)
    return [Spacing(start, index * span / share.count / len(split), span / share.count)
            for index, share in enumerate(split)]


def add_history(split: list[Share], end: datetime | None = None) -> int:
    """Store the shares' copies (finished runs with their children), created over the
    HISTORY_DAYS before `end` (now); returns how many runs were made."""
    from django.db import connection, transaction
    from django.utils import timezone

    from runner.models import LogLine, StepEvent

    templates = list({share.template.id: share.template for share in split}.values())
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        for share, spacing in zip(split, spacings(split, end or timezone.now()), strict=True):
            cursor.execute(*run_copies_sql(share, spacing))
        for template in templates:
            for model in (StepEvent, LogLine):
                cursor.execute(*child_copies_sql(model, template))
    settle()
    return sum(share.count for share in split)


def settle() -> None:
    """Leave the database as a long-lived installation's would be after such a history:
    analysed (PostgreSQL's autovacuum would have done it) and written out (a checkpoint long
    ago; otherwise the measured phase competes with writing back half a gigabyte), and this
    connection's enlarged SQLite page cache given back. Inside a transaction (a test) there is
    nothing committed to write out yet."""
    from django.db import DatabaseError, connection, transaction

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE runner_run, runner_stepevent, runner_logline")
            # Needs pg_checkpoint (PostgreSQL 15) or a superuser; refused, it is left out.
            if not connection.in_atomic_block:
                with contextlib.suppress(DatabaseError), transaction.atomic():
                    cursor.execute("CHECKPOINT")
        else:
            if not connection.in_atomic_block:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("PRAGMA cache_size = -2000")  # SQLite's default
