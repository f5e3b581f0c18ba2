"""Statements prepared on the PostgreSQL server (owlgrid_site/prepared.py): the same rows and
the same errors as Django's cursor, each statement text prepared once per connection, visible
to Django's query log, and off when asked. SQLite keeps Django's cursor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext, override_settings

from owlgrid_site.envconf import SQLITE_ENGINE
from owlgrid_site.prepared import prepared_cursor
from owlgrid_site.sqlite.base import DatabaseWrapper
from runner import journal, services
from tests.runner.builders import publish_workflow

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="server-side prepared statements are PostgreSQL's")

STATEMENT = "SELECT name FROM environments_environment WHERE name = %s OR position = %s"


def select(name: str, position: int = -1) -> list[str]:
    with prepared_cursor(connection) as cursor:
        cursor.execute(STATEMENT, [name, position])
        return [row[0] for row in cursor.fetchall()]


def prepared_statements(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"%{fragment}%"])
        return [row[0] for row in cursor.fetchall()]


@on_postgresql
@pytest.mark.django_db
def test_a_statement_is_prepared_once_per_connection_and_bound_each_time(environments):
    assert select("dev") == ["dev"]
    assert select("prod") == ["prod"]
    assert select("it's not there") == []
    assert select("nothing", environments["staging"].position) == ["staging"]
    assert prepared_statements("environments_environment WHERE name = $1") == [
        "SELECT name FROM environments_environment WHERE name = $1 OR position = $2"]


@on_postgresql
@pytest.mark.django_db
def test_django_logs_and_counts_the_prepared_statements(environments):
    with CaptureQueriesContext(connection) as queries:
        select("dev")
        select("staging")
    assert [query["sql"] for query in queries.captured_queries] == [
        "SELECT name FROM environments_environment WHERE name = $1 OR position = $2"] * 2


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_raises_django_s_error_and_the_next_one_works(environments):
    """psycopg forgets its prepared statements when a transaction rolls back, and prepares them
    again when they are next used."""
    assert select("dev") == ["dev"]
    with pytest.raises(DatabaseError, match="invalid input syntax"), transaction.atomic():
        select("dev", "not a number")  # type: ignore[arg-type]
    assert select("dev") == ["dev"]
    assert len(prepared_statements("environments_environment WHERE name = $1")) == 1


@on_postgresql
@pytest.mark.django_db
@override_settings(OWLGRID_DB_PREPARE=False)
def test_preparation_can_be_turned_off(environments):
    assert select("dev") == ["dev"]
    assert prepared_statements("environments_environment WHERE name = $1") == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_run_s_claim_commits_and_finish_are_prepared(redis_conn):
    workflow, _ = publish_workflow("prepared", [
        {"name": "one", "type": "set_variable", "inputs": {"name": "x", "value": 1}},
    ])
    run = services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})
    claimed = journal.claim(run.id, "worker-a")
    journal.commit(claimed, "worker-a", lines=[{"seq": 1, "message": "one"}], events=[
        {"step_key": "one", "action_name": "one", "action_type": "set_variable",
         "status": "running", "previous": None}])
    journal.finish(claimed, "worker-a", status="completed", result={})
    claims = prepared_statements("claimed AS (UPDATE")
    fences = prepared_statements("WITH fence AS (UPDATE")
    assert len(claims) == 1 and "$1" in claims[0]
    assert len(fences) == 2  # the step's commit and the finish: two statement texts
    run.refresh_from_db()
    assert run.status == "completed" and run.log_lines.get().message == "one"


def test_sqlite_keeps_django_s_cursor(tmp_path: Path, django_db_blocker):
    settings = ConnectionHandler({"default": {
        "ENGINE": SQLITE_ENGINE, "NAME": str(tmp_path / "lite.sqlite3")}}).settings["default"]
    lite = DatabaseWrapper(settings, "lite")
    with django_db_blocker.unblock():
        try:
            with prepared_cursor(lite) as cursor:
                cursor.execute("SELECT %s || 'b'", ["a"])
                assert cursor.fetchone() == ("ab",)
                assert type(cursor.cursor).__module__.startswith("django.db.backends.sqlite3")
        finally:
            lite.close()
