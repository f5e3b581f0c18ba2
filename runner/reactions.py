"""Workflows started by what happens in OwlGrid: a record written, another run finishing.

Both look for deployments, in the environment where the event happened, whose version has a
matching trigger. A workflow never re-triggers itself, and a chain of reactions stops at
OWLGRID_MAX_RUN_DEPTH, so two workflows cannot feed each other forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from environments.models import Deployment
from runner.models import Run
from workflows.expressions import ExpressionError, render_string, truthy
from workflows.models import Record, Trigger, Workflow

logger = logging.getLogger("owlgrid.runner")


def matching_triggers(
    environment_id: Any, trigger_type: str
) -> Iterator[tuple[Deployment, Trigger]]:
    deployments = _deployments_with(environment_id, trigger_type).select_related(
        "workflow", "version", "environment"
    ).distinct()
    for deployment in deployments:
        for trigger in deployment.version.triggers.filter(type=trigger_type):
            yield deployment, trigger


def _deployments_with(environment_id: Any, trigger_type: str) -> QuerySet[Deployment]:
    """Live deployments in the environment whose version has a trigger of that type. Filtering
    on the trigger in SQL matters: this runs after every run, and most deployments have none."""
    return Deployment.objects.filter(environment_id=environment_id, workflow__active=True,
                                     version__triggers__type=trigger_type)


def anyone_watches_runs(environment_id: Any) -> bool:
    """Whether a live deployment in the environment has a run-event trigger: asked after every
    run, and almost always no. One raw query (the ORM spent more building it than running it);
    on PostgreSQL the finishing write asks it itself (`watchers_sql`)."""
    sql, params = watchers_sql(environment_id)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return bool(cursor.fetchone()[0])


def watchers_sql(environment_id: Any) -> tuple[str, list[Any]]:
    """`anyone_watches_runs` as an SQL expression and its parameters."""
    tables = {"d": Deployment._meta.db_table, "w": Workflow._meta.db_table,
              "t": Trigger._meta.db_table}
    sql = (  # noqa: S608 - our table names; the values are parameters
        "EXISTS (SELECT 1 FROM {d} d JOIN {w} w ON w.id = d.workflow_id "
        "JOIN {t} t ON t.version_id = d.version_id "
        "WHERE d.environment_id = %s AND w.active AND t.type = %s)"
    ).format(**tables)
    return sql, [environment_id, Trigger.Type.RUN.value]


def record_written(*, run: Run, collection: str, record_id: str, event: str) -> list[Run]:
    """Start the workflows whose record trigger matches this write."""
    from runner import services

    if run.environment_id is None or run.depth + 1 > settings.OWLGRID_MAX_RUN_DEPTH:
        return []
    record = Record.objects.filter(id=record_id).first()
    if record is None:
        return []
    payload = {"event": event, "collection": collection,
               "record": {"id": str(record.id), "key": record.key, "data": record.data}}
    started = []
    for deployment, trigger in matching_triggers(run.environment_id, Trigger.Type.RECORD):
        options = trigger.settings or {}
        if (options.get("collection") != collection
                or event not in options.get("events", ["created"])
                or deployment.workflow_id == run.workflow_id
                or not passes_filter(options.get("filter"), payload)):
            continue
        started.append(services.run_start(
            workflow=deployment.workflow, version=deployment.version,
            environment=deployment.environment, trigger=trigger, trigger_type="record",
            trigger_input={"body": payload}, parent_run=run,
        ))
    return started


def passes_filter(source: str | None, payload: dict[str, Any]) -> bool:
    if not source:
        return True
    try:
        return truthy(render_string(source, payload))
    except ExpressionError as exc:
        logger.warning("record trigger filter failed: %s", exc)
        return False


def run_finished(run_id: Any, environment_id: Any = None) -> None:
    """Start the workflows watching runs like this one finish.

    Given the run's environment, one query answers the usual case: nobody watches there. It
    runs on the finishing executor's connection, which that executor keeps or closes."""
    from runner import services

    if environment_id is not None and not anyone_watches_runs(environment_id):
        return
    run = Run.objects.select_related("workflow", "environment").filter(id=run_id).first()
    if run is None or run.environment_id is None:
        return
    if run.depth + 1 > settings.OWLGRID_MAX_RUN_DEPTH:
        return
    summary = {"run_id": str(run.id), "workflow": run.workflow.name, "status": run.status,
               "error": run.error, "result": run.result,
               "finished_at": run.finished_at.isoformat() if run.finished_at else None}
    for deployment, trigger in matching_triggers(run.environment_id, Trigger.Type.RUN):
        options = trigger.settings or {}
        watched = options.get("workflow")
        if (deployment.workflow_id == run.workflow_id
                or watched not in {"*", run.workflow.name}
                or run.status not in options.get("statuses", ["failed"])):
            continue
        services.run_start(
            workflow=deployment.workflow, version=deployment.version,
            environment=deployment.environment, trigger=trigger, trigger_type="run",
            trigger_input={"body": summary}, parent_run=run,
        )
