"""OwlGrid's SQLite backend: the write lock waited for in fine steps, SQLite's errors kept, and
the web process's idle connections.

Each test opens its own SQLite database with the backend, whatever database the suite runs
on, and a second connection (the sqlite3 module's, as another process would) takes the lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connections, transaction
from django.db.utils import ConnectionHandler

from owlgrid_site.envconf import SQLITE_ENGINE, web_database_connections
from owlgrid_site.sqlite.base import DatabaseWrapper


@pytest.fixture
def lite(tmp_path: Path, django_db_blocker):
    """A connection through OwlGrid's backend, the way envconf configures SQLite, under the
    alias "lite"."""
    def connect(timeout: float = 20) -> DatabaseWrapper:
        settings = ConnectionHandler({"default": {
            "ENGINE": SQLITE_ENGINE, "NAME": str(tmp_path / "lite.sqlite3"),
            "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL"}}}).settings["default"]
        connection = connections["lite"] = DatabaseWrapper(settings, "lite")
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS item (name TEXT)")
        return connection

    with django_db_blocker.unblock():
        yield connect
    if "lite" in connections:
        connections["lite"].close()
        del connections["lite"]


def holder(path: str) -> sqlite3.Connection:
    """Another writer holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO item VALUES ('theirs')")
    return other


def begins(connection) -> list[str]:
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            seen.append(sql)
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(record)
    return seen


def busy_timeout(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def test_a_transaction_begins_once_another_writer_releases_the_lock(lite):
    connection = lite()
    other = holder(connection.settings_dict["NAME"])
    attempts = begins(connection)

    def release_after_the_first_attempt() -> None:
        while not attempts:
            time.sleep(0.001)
        time.sleep(0.02)
        other.execute("COMMIT")

    threading.Thread(target=release_after_the_first_attempt, daemon=True).start()

    with transaction.atomic(using="lite"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO item VALUES ('ours')")

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM item ORDER BY rowid")
        assert [row[0] for row in cursor.fetchall()] == ["theirs", "ours"]
    # Retried by the backend, not slept through by SQLite's handler (which would have made one
    # call last the whole wait).
    assert len(attempts) > 1
    assert set(attempts) == {"BEGIN IMMEDIATE"}
    assert busy_timeout(connection) == 20_000, "statements outside BEGIN keep SQLite's handler"


def test_a_lock_held_past_the_timeout_fails_as_sqlite_would_and_changes_nothing(lite):
    connection = lite(timeout=0.2)
    other = holder(connection.settings_dict["NAME"])
    began = time.monotonic()

    with pytest.raises(OperationalError, match="database is locked"), \
            transaction.atomic(using="lite"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO item VALUES ('ours')")

    assert time.monotonic() - began >= 0.2
    assert not connection.in_atomic_block
    assert busy_timeout(connection) == 200
    other.execute("ROLLBACK")
    with transaction.atomic(using="lite"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM item")
        assert cursor.fetchone()[0] == 0


def test_errors_other_than_a_lock_are_not_retried(lite):
    connection = lite()
    attempts = begins(connection)
    connection.connection.execute("BEGIN")  # a transaction already open on this connection

    with pytest.raises(OperationalError, match="within a transaction"), \
            transaction.atomic(using="lite"):
        pass

    assert len(attempts) == 1
    assert busy_timeout(connection) == 20_000


@pytest.fixture
def web_connection(tmp_path: Path, django_db_blocker):
    """Connections through OwlGrid's backend as the web process configures SQLite (envconf's
    `web_database_connections`), each standing for one request's thread."""
    databases = {"default": {"ENGINE": SQLITE_ENGINE, "NAME": str(tmp_path / "web.sqlite3"),
                             "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                         "init_command": "PRAGMA journal_mode=WAL"}}}
    with mock.patch.dict(os.environ, {"OWLGRID_WEB_DB_POOL": "2"}):
        web_database_connections(databases)
    settings = ConnectionHandler(databases).settings["default"]
    opened: list[DatabaseWrapper] = []

    def request() -> DatabaseWrapper:
        connection = DatabaseWrapper(settings, "web")
        connection.ensure_connection()
        connection.connection.execute("CREATE TABLE IF NOT EXISTS item (name TEXT)")
        if threading.current_thread() is threading.main_thread():
            opened.append(connection)  # a request in another thread gives its own back
        return connection

    with django_db_blocker.unblock():
        yield request
    for connection in opened:
        connection.close()
    while (kept := opened[0].idle.take()) is not None:
        kept.close()


def test_a_request_takes_the_connection_an_earlier_request_gave_back(web_connection):
    first = web_connection()
    raw = first.connection
    first.close()

    seen: list[sqlite3.Connection] = []

    def another_request() -> None:
        connection = web_connection()
        seen.append(connection.connection)
        connection.close()

    second = threading.Thread(target=another_request)
    second.start()
    second.join()

    assert seen == [raw]  # the same open connection, in another request's thread
    assert first.connection is None
    assert raw.execute("SELECT count(*) FROM item").fetchone()[0] == 0  # given back, still open


def test_a_connection_given_back_inside_a_transaction_is_closed_with_its_writes(web_connection):
    first = web_connection()
    raw = first.connection
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO item VALUES ('unfinished')")
    first.close()

    second = web_connection()

    assert second.connection is not raw
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        raw.execute("SELECT 1")
    assert second.connection.execute("SELECT count(*) FROM item").fetchone()[0] == 0


def test_a_connection_closed_inside_an_atomic_block_is_not_given_back(web_connection):
    first = web_connection()
    raw = first.connection
    connections["web"] = first
    try:
        first.set_autocommit(False)  # no BEGIN yet: sqlite3 opens the transaction on a write
        with transaction.atomic(using="web", savepoint=False):
            assert not raw.in_transaction
            first.close()
    finally:
        del connections["web"]

    second = web_connection()

    assert second.connection is not raw
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        raw.execute("SELECT 1")


def test_no_more_connections_wait_than_the_limit(web_connection):
    requests = [web_connection() for _ in range(3)]
    raws = [request.connection for request in requests]
    for request in requests:
        request.close()

    assert requests[0].idle.idle == raws[:2]  # OWLGRID_WEB_DB_POOL=2
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        raws[2].execute("SELECT 1")


def test_only_the_web_process_keeps_idle_connections(lite):
    connection = lite()
    raw = connection.connection
    connection.close()

    assert connection.idle is None
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        raw.execute("SELECT 1")
