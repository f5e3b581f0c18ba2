"""The per-process test databases (tests/conftest.py): their names, and their removal.

Each pytest process has a database of its own, named after its pid, so that sessions running
side by side never collide. pytest-django drops it at the end of the session, but not always
completely: on SQLite, Django removes the database file only, and the `-wal`/`-shm` files stay
when another thread of the process (the live server, an inline run) still holds a connection;
on PostgreSQL, the DROP fails with a mere warning while a worker process is still connected.
A session that is killed outright drops nothing. So the session drops what is left of its own
database at its end, and at its start the databases of sessions whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def sqlite_name(var_dir: Path, pid: int) -> Path:
    return var_dir / f"test-{pid}.sqlite3"


def postgres_name(base_name: str, pid: int) -> str:
    return f"test_{base_name}_{pid}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_sqlite(path: Path) -> None:
    """The database file and the files SQLite keeps beside it."""
    for suffix in SQLITE_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def remove_stale_sqlite(var_dir: Path) -> list[Path]:
    """Remove the SQLite test databases (with their -wal/-shm) of sessions that are gone."""
    pattern = re.compile(r"test-(\d+)\.sqlite3(?:-wal|-shm|-journal)?")
    removed = []
    for path in var_dir.glob("test-*.sqlite3*"):
        match = pattern.fullmatch(path.name)
        if match and not process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def is_local(config: dict[str, Any]) -> bool:
    """A server on this machine (TCP loopback or a Unix socket): its test databases' pids are
    this machine's. On a shared server another machine's live session may have any pid."""
    host = config.get("HOST") or ""
    return host in {"", "localhost", "127.0.0.1", "::1"} or host.startswith("/")


def postgres_maintenance(config: dict[str, Any]) -> Any:
    """An autocommit connection to the server's `postgres` database (as Django's own test
    database creation uses), outside any Django connection."""
    import psycopg

    params = {"dbname": "postgres", "user": config.get("USER"), "password": config.get("PASSWORD"),
              "host": config.get("HOST"), "port": config.get("PORT")}
    return psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True)


def drop_postgres(config: dict[str, Any], name: str) -> None:
    """Drop the database even while a leftover worker process is still connected to it."""
    from psycopg import sql

    with postgres_maintenance(config) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def drop_stale_postgres(config: dict[str, Any]) -> list[str]:
    """Drop the test databases of this machine's sessions that are gone."""
    if not is_local(config):
        return []
    pattern = re.compile(rf"test_{re.escape(config['NAME'])}_(\d+)")
    with postgres_maintenance(config) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    stale = [name for name in names
             if (match := pattern.fullmatch(name)) and not process_alive(int(match.group(1)))]
    import psycopg

    for name in stale:
        with contextlib.suppress(psycopg.Error):  # another session is dropping it right now
            drop_postgres(config, name)
    return stale
