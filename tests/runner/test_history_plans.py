"""Work whose cost must not grow with the stored history reads runs through an index that
bounds it: retention by workflow and date (or by id), the concurrency slot count through the
slot holders, the first waiter of a workflow through its runs in that status.

SQLite only: it keeps no statistics, so its plan follows from the indexes alone, and a status
index or a workflow's whole history walked for a handful of rows is what the plan says. (With
100,000 stored runs such walks cost 30–130 ms a call; PostgreSQL plans from statistics.) The
statements are the ones the code really executes, captured with `execute_wrapper` and
explained with their parameters.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from runner.models import Run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db

FINISHED = {"completed", "failed", "cancelled"}
STATUS_ONLY = ("USING INDEX run_status_wake (status=?)", "USING INDEX run_status_lease (status=?)")


@pytest.fixture(autouse=True)
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL chooses its plans from statistics, not from the indexes alone")


@pytest.fixture
def workflow():
    return publish_workflow("limited", [{"name": "a", "type": "log", "inputs": {"message": "x"}}],
                            concurrency_limit=1)[0]


def make(workflow, status: str, days_ago: float = 0, **fields) -> Run:
    run = Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                             trigger_type="manual", status=status,
                             finished_at=timezone.now() if status in FINISHED else None, **fields)
    Run.objects.filter(id=run.id).update(created_at=timezone.now() - timedelta(days=days_ago))
    run.refresh_from_db()
    return run


def executed(action) -> list[tuple[str, list]]:
    """The statements `action()` executes, with their parameters."""
    statements: list[tuple[str, list]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        action()
    return statements


def run_plans(statements: list[tuple[str, list]]) -> list[str]:
    """SQLite's plan of each statement that reads the runs table, one string each."""
    plans = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            if '"runner_run"' not in sql or sql.lstrip().upper().startswith("INSERT"):
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plans.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))
    return plans


def test_retention_reads_runs_by_workflow_and_date_or_by_id(workflow):
    for days in (40, 39, 5, 4, 3, 2, 1):
        make(workflow, "completed", days)
    make(workflow, "waiting", 50)
    from runner.retention import prune_runs

    statements = executed(lambda: prune_runs(older_than_days=30, keep_per_workflow=3))

    assert Run.objects.filter(status="completed").count() == 3
    assert not any("ROW_NUMBER" in sql for sql, _ in statements)
    plans = run_plans(statements)
    assert plans
    for plan in plans:
        assert "SCAN runner_run" not in plan, plan
        assert not any(walk in plan for walk in STATUS_ONLY), plan
    assert any("run_workflow_status (workflow_id=? AND status=? AND created_at<?)" in plan
               for plan in plans), plans


def test_the_slot_count_reads_only_the_slot_holders(workflow):
    from runner import journal

    make(workflow, "running", holds_slot=True)
    waiting = make(workflow, "queued")

    plans = run_plans(executed(lambda: journal.concurrency_blocked(waiting)))

    assert any("USING INDEX run_slot_holders (workflow_id=?)" in plan for plan in plans), plans


def test_the_first_waiter_of_a_workflow_is_found_among_its_waiting_runs(workflow):
    from runner import journal

    make(workflow, "completed")
    make(workflow, "waiting", status_reason="concurrency")

    plans = run_plans(executed(lambda: journal.wake_first_waiter(reason="concurrency",
                                                                 workflow_id=workflow.id)))

    assert any("run_workflow_status (workflow_id=? AND status=?)" in plan for plan in plans), plans
