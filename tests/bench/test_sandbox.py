"""`make bench` never touches a user's data: it runs on a database, a var dir and a Redis
database of its own (bench/sandbox.py), and removes them at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import sandbox
from tests.execution import subprocess_database_url

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
BENCH_REDIS_DB = 11  # not the default 14: a `make bench` running meanwhile keeps its Redis

# What a part does to the database and Redis it is given before it measures anything: migrate,
# empty the queue, replace its workflows, and drop them at the end (webhook.py).
PART = """
import json
from common import setup_django
from webhook import forget_runs, prepare
setup_django()
prepare()
forget_runs()
from django.conf import settings
print(json.dumps({"database": str(settings.DATABASES["default"]["NAME"]),
                  "redis": settings.REDIS_URL, "var_dir": str(settings.VAR_DIR)}))
"""


def test_the_bench_redis_is_database_14_of_the_configured_server():
    url = sandbox.bench_redis_url({"REDIS_URL": "redis://cache.example:6380/3"})

    assert url == "redis://cache.example:6380/14"


def test_the_bench_redis_can_be_named():
    url = sandbox.bench_redis_url({"REDIS_URL": "redis://127.0.0.1:6379/0",
                                   "OWLGRID_BENCH_REDIS_URL": "redis://127.0.0.1:6379/9"})

    assert url == "redis://127.0.0.1:6379/9"


@pytest.mark.parametrize("environ", [
    {"REDIS_URL": "redis://127.0.0.1:6379/14"},
    {"OWLGRID_BENCH_REDIS_URL": "redis://127.0.0.1:6379"},
    {"OWLGRID_BENCH_REDIS_URL": "redis://localhost/15"},
    {"REDIS_URL": "unix:///srv/redis.sock?db=2",
     "OWLGRID_BENCH_REDIS_URL": "unix:///srv/redis.sock?db=2"},
])
def test_a_bench_redis_that_is_the_apps_or_the_tests_is_refused(environ):
    with pytest.raises(sandbox.SandboxError):
        sandbox.bench_redis_url(environ)


def test_a_unix_socket_redis_gets_its_database_as_a_parameter():
    url = sandbox.bench_redis_url({"REDIS_URL": "unix:///srv/redis.sock?db=0"})

    assert url == "unix:///srv/redis.sock?db=14"
    assert not sandbox.same_redis(url, "unix:///srv/redis.sock?db=0")


def test_a_sandbox_is_set_while_open_and_gone_after(redis_conn):
    environ = {"DATABASE_URL": subprocess_database_url(), "REDIS_URL": redis_url(),
               "OWLGRID_BENCH_REDIS_URL": bench_redis_url()}
    before = dict(environ)

    with sandbox.opened(environ) as box:
        assert environ["DATABASE_URL"] == box.database_url != before["DATABASE_URL"]
        assert environ["OWLGRID_VAR_DIR"] == str(box.var_dir)
        assert box.var_dir.is_dir()
        assert postgres_databases(box) == ({box.postgres_name} if box.postgres_name else set())

    assert environ == before
    assert not box.var_dir.exists()
    assert postgres_databases(box) == set()


def test_a_copy_of_the_bench_database_is_its_own_and_goes_away(redis_conn):
    environ = {"DATABASE_URL": subprocess_database_url(), "REDIS_URL": redis_url(),
               "OWLGRID_BENCH_REDIS_URL": bench_redis_url()}
    with sandbox.opened(environ) as box:
        write(box.database_url, "CREATE TABLE kept (n integer)", "INSERT INTO kept VALUES (7)")

        copy = sandbox.copy_database(box.database_url)
        write(copy, "INSERT INTO kept VALUES (8)")

        assert read(copy, "SELECT n FROM kept ORDER BY n") == [(7,), (8,)]
        assert read(box.database_url, "SELECT n FROM kept") == [(7,)]
        sandbox.drop_copy(copy)
        if sandbox.is_postgres(copy):
            assert not postgres_database_exists(copy.rsplit("/", 1)[1])
        else:
            assert not sandbox.sqlite_path(copy).exists()


def connect(database_url: str):
    """A plain DB-API connection to a sandbox database, outside Django's."""
    if sandbox.is_postgres(database_url):
        import psycopg

        return psycopg.connect(database_url, autocommit=True)
    import sqlite3

    return sqlite3.connect(sandbox.sqlite_path(database_url), isolation_level=None)


def write(database_url: str, *statements: str) -> None:
    connection = connect(database_url)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


def read(database_url: str, query: str) -> list[tuple]:
    connection = connect(database_url)
    try:
        return [tuple(row) for row in connection.execute(query).fetchall()]
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_bench_part_leaves_the_users_runs_and_redis_alone(redis_conn):
    queued = users_queued_run()
    redis_conn.set("users:key", "kept")
    keys_before = set(redis_conn.keys("*"))

    used = run_part_setup()

    from runner.models import Run

    assert Run.objects.get(id=queued.id).status == "queued"
    assert set(redis_conn.keys("*")) == keys_before
    assert used["redis"] == bench_redis_url()
    assert used["database"] != str(current_database_name())
    assert not Path(used["var_dir"]).exists()  # removed when the part ended
    assert not postgres_database_exists(used["database"])


def users_queued_run():
    """A run queued in the user's database, its job in the user's Redis: what a bench's
    emptied queue would lose and its sweeper would take up."""
    from runner import services
    from tests.runner.builders import publish_workflow

    workflow, _ = publish_workflow("users-own", [
        {"name": "a", "type": "log", "inputs": {"message": "x"}}])
    return services.run_start(workflow=workflow, trigger_type="manual")


def run_part_setup() -> dict:
    """A bench part's setup, run on its own as `python bench/<part>.py` would be, with the test
    database and Redis configured as the user's."""
    env = dict(os.environ, DATABASE_URL=subprocess_database_url(), REDIS_URL=redis_url(),
               OWLGRID_BENCH_REDIS_URL=bench_redis_url())
    env.pop(sandbox.MARKER, None)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PART], cwd=BENCH_DIR, env=env, capture_output=True, text=True,
        timeout=240, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


def bench_redis_url() -> str:
    return sandbox.with_redis_db(redis_url(), BENCH_REDIS_DB)


def current_database_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


def postgres_databases(box: sandbox.Sandbox) -> set[str]:
    """The sandbox's database, if it is on the PostgreSQL server (none on SQLite)."""
    if not box.postgres_server or not box.postgres_name:
        return set()
    with sandbox.postgres_admin(box.postgres_server) as admin:
        rows = admin.execute("SELECT datname FROM pg_database WHERE datname = %s",
                             (box.postgres_name,)).fetchall()
    return {row[0] for row in rows}


def postgres_database_exists(name: str) -> bool:
    """Whether a database of that name is on the test's PostgreSQL server (False on SQLite)."""
    url = subprocess_database_url()
    if not sandbox.is_postgres(url):
        return False
    return bool(postgres_databases(sandbox.Sandbox(Path(), "", "", name, url)))
