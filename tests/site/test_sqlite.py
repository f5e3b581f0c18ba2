"""SQLite as OwlGrid configures it (Django's own backend and documented options): a writer waits
for another writer's lock instead of failing, and one held too long fails cleanly.

Each test opens its own SQLite database, whatever database the suite runs on, and a second
connection (the sqlite3 module's, as another process would) takes the lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connections, transaction
from django.db.utils import ConnectionHandler, load_backend

from owlgrid_site.envconf import SQLITE_ENGINE, SQLITE_OPTIONS


@pytest.fixture
def lite(tmp_path: Path, django_db_blocker):
    """A connection configured as envconf configures SQLite, under the alias "lite"."""
    def connect(timeout: float = 20):
        options = dict(SQLITE_OPTIONS, timeout=timeout)
        settings = ConnectionHandler({"default": {
            "ENGINE": SQLITE_ENGINE, "NAME": str(tmp_path / "lite.sqlite3"),
            "OPTIONS": options}}).settings["default"]
        connection = load_backend(SQLITE_ENGINE).DatabaseWrapper(settings, "lite")
        connections["lite"] = connection
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


def names(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM item ORDER BY rowid")
        return [row[0] for row in cursor.fetchall()]


def test_a_transaction_begins_once_another_writer_releases_the_lock(lite):
    connection = lite()
    other = holder(connection.settings_dict["NAME"])
    waiting = threading.Event()

    def release_once_we_wait() -> None:
        waiting.wait(5)
        time.sleep(0.05)  # let our BEGIN find the lock taken
        other.execute("COMMIT")

    threading.Thread(target=release_once_we_wait, daemon=True).start()
    waiting.set()
    with transaction.atomic(using="lite"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO item VALUES ('ours')")

    assert names(connection) == ["theirs", "ours"]


def test_a_lock_held_past_the_timeout_fails_as_sqlite_would_and_changes_nothing(lite):
    connection = lite(timeout=0.2)
    other = holder(connection.settings_dict["NAME"])
    began = time.monotonic()

    with pytest.raises(OperationalError, match="database is locked"), \
            transaction.atomic(using="lite"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO item VALUES ('ours')")

    assert time.monotonic() - began >= 0.2
    assert not connection.in_atomic_block
    other.execute("ROLLBACK")
    assert names(connection) == []
