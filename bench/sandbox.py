"""A place of `make bench`'s own: a temporary database, var dir and Redis database.

The benchmarks create workflows, thousands of runs and queued jobs, start a sweeper and empty
the queue. Run on the installation's own database and Redis, the sweeper took up the user's
runs (and timed the webhook and log parts out) and emptying the queue dropped the user's jobs.
So every run of the benchmarks gets:

- a fresh database: a SQLite file in a temporary directory, or, when DATABASE_URL names a
  PostgreSQL server, a database with a unique name created on that server and dropped at the
  end (even on failure or Ctrl-C: try/finally, atexit, and SIGTERM turned into SystemExit;
  a run killed outright leaves its database, which the next run on this machine drops);
- a temporary OWLGRID_VAR_DIR (secret keys, the SQLite file), removed at the end;
- a Redis database of its own: OWLGRID_BENCH_REDIS_URL, else database 14 of the configured
  Redis server (the app uses 0 by default, the tests 15), emptied at the start and the end.
  A bench Redis that is the app's or the tests' is refused.

The settings of the parts and of every process they start (Daphne, workers) come from the
environment, so the sandbox is a set of environment variables; the parts inherit them from
`run.py`, and a part run on its own opens a sandbox of its own (`ensure`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

MARKER = "OWLGRID_BENCH_SANDBOX"
BENCH_REDIS_DB = 14
TEST_REDIS_DB = 15
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
POSTGRES_PREFIX = "owlgrid_bench_"


class SandboxError(RuntimeError):
    """The bench was asked to use a database or Redis that is not its own."""


@dataclass(frozen=True)
class Sandbox:
    """Where one run of the benchmarks keeps everything it writes."""

    var_dir: Path
    database_url: str
    redis_url: str
    postgres_name: str | None = None  # the database created for this run, dropped at the end
    postgres_server: str | None = None  # DATABASE_URL as configured: where to drop it from

    def environ(self) -> dict[str, str]:
        """The variables that point OwlGrid's settings (and every child process) here."""
        return {MARKER: "1", "OWLGRID_VAR_DIR": str(self.var_dir),
                "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


# --- Redis ------------------------------------------------------------------------------------

def redis_db(url: str) -> int:
    """The database number a Redis URL selects (redis-py's rules: the path, or `?db=`)."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    if "db" in query:
        return int(query["db"][0])
    path = parsed.path.strip("/")
    return int(path) if parsed.scheme != "unix" and path.isdigit() else 0


def with_redis_db(url: str, db: int) -> str:
    """The same server as `url`, database `db`."""
    scheme, netloc, path, params, query, fragment = urlparse(url)
    kept = {k: v[0] for k, v in parse_qs(query).items() if k != "db"}
    if scheme == "unix":
        return f"unix://{netloc}{path}?{urlencode({**kept, 'db': db})}"
    return urlunparse((scheme, netloc, f"/{db}", params, urlencode(kept), fragment))


def redis_server(url: str) -> tuple:
    """Where a Redis URL points: its socket, or its host (loopback names as one) and port."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return ("unix", parsed.path)
    host = parsed.hostname or LOOPBACK
    return ("tcp", LOOPBACK if host in LOOPBACK_NAMES else host, parsed.port or 6379)


def same_redis(first: str, second: str) -> bool:
    """Whether two URLs name the same database of the same server."""
    return (redis_server(first) == redis_server(second)
            and redis_db(first) == redis_db(second))


def bench_redis_url(environ: Mapping[str, str]) -> str:
    """OWLGRID_BENCH_REDIS_URL, else database BENCH_REDIS_DB of the configured Redis server;
    never the app's own database nor the tests'."""
    app = environ.get("REDIS_URL") or DEFAULT_REDIS
    url = environ.get("OWLGRID_BENCH_REDIS_URL") or with_redis_db(app, BENCH_REDIS_DB)
    tests = environ.get("OWLGRID_TEST_REDIS_URL") or with_redis_db(app, TEST_REDIS_DB)
    for name, taken in (("the app's REDIS_URL", app), ("the tests' Redis", tests)):
        if same_redis(url, taken):
            raise SandboxError(f"the bench's Redis {url} is {name}: set OWLGRID_BENCH_REDIS_URL "
                               "to a database of its own")
    return url


def flush_redis(url: str) -> None:
    """Empty the bench's own Redis database (jobs and keys left by an interrupted run)."""
    from redis import Redis

    client = Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- the database -----------------------------------------------------------------------------

def is_postgres(database_url: str) -> bool:
    return urlparse(database_url).scheme in POSTGRES_SCHEMES


def postgres_url(database_url: str, name: str) -> str:
    """The same server and credentials as `database_url`, database `name`."""
    scheme, netloc, _, params, query, fragment = urlparse(database_url)
    return urlunparse((scheme, netloc, f"/{name}", params, query, fragment))


def postgres_admin(database_url: str):
    """An autocommit connection to the server for CREATE/DROP DATABASE: its `postgres`
    database, else the configured one (as Django does for test databases); nothing is read."""
    import psycopg

    try:
        return psycopg.connect(postgres_url(database_url, "postgres"), autocommit=True)
    except psycopg.OperationalError:
        return psycopg.connect(database_url, autocommit=True)


def create_postgres(database_url: str, template: str | None = None) -> str:
    """A new database on the configured server, with a name no one else uses: empty, or a copy
    of `template` (which nobody may be connected to)."""
    from psycopg import sql

    name = f"{POSTGRES_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with postgres_admin(database_url) as admin:
        admin.execute(statement)
    return name


def drop_postgres(database_url: str, name: str) -> None:
    """Drop the bench's database, ending connections that outlived their process (FORCE)."""
    from psycopg import sql

    with postgres_admin(database_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def drop_stale_postgres(database_url: str) -> list[str]:
    """Drop the databases of earlier runs on this machine whose process is gone (killed
    outright: no `finally`, no atexit). Only on a server of this machine, where the pid in
    the name is one of ours."""
    host = urlparse(database_url).hostname or LOOPBACK
    if host not in LOOPBACK_NAMES:
        return []
    pattern = re.compile(rf"{POSTGRES_PREFIX}(\d+)_[0-9a-f]+")
    with postgres_admin(database_url) as admin:
        names = [row[0] for row in admin.execute("SELECT datname FROM pg_database")]
    stale = [name for name in names
             if (match := pattern.fullmatch(name)) and not process_alive(int(match.group(1)))]
    for name in stale:
        drop_postgres(database_url, name)
    return stale


def sqlite_path(database_url: str) -> Path:
    """The file of a `sqlite:///<absolute path>` URL (as the sandbox writes them)."""
    return Path(database_url.removeprefix("sqlite:///"))


def copy_database(database_url: str) -> str:
    """A copy of the bench's database (SQLite: a file beside it; PostgreSQL: a new database made
    from it, nobody connected to it meanwhile), for a part to compare two states of it; its
    URL. Drop it with `drop_copy`."""
    if is_postgres(database_url):
        name = create_postgres(database_url, template=urlparse(database_url).path.lstrip("/"))
        return postgres_url(database_url, name)
    source = sqlite_path(database_url)
    target = source.with_name(f"copy-{secrets.token_hex(4)}-{source.name}")
    with contextlib.closing(sqlite3.connect(source)) as read, \
            contextlib.closing(sqlite3.connect(target)) as write:
        read.backup(write)
    return f"sqlite:///{target}"


def drop_copy(copy_url: str) -> None:
    """Remove a database made by `copy_database`."""
    if is_postgres(copy_url):
        drop_postgres(copy_url, urlparse(copy_url).path.lstrip("/"))
        return
    path = sqlite_path(copy_url)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- opening and closing ----------------------------------------------------------------------

def database(configured: str, var_dir: Path) -> dict[str, str | None]:
    """The run's database: a new one on the configured PostgreSQL server, else a SQLite file in
    the run's var dir (the Sandbox fields that say so)."""
    if configured and is_postgres(configured):
        drop_stale_postgres(configured)
        name = create_postgres(configured)
        return {"database_url": postgres_url(configured, name), "postgres_name": name,
                "postgres_server": configured}
    return {"database_url": f"sqlite:///{var_dir / 'bench.sqlite3'}"}


def create(environ: Mapping[str, str]) -> Sandbox:
    """Make the temporary var dir, database and Redis database for one run."""
    redis_url = bench_redis_url(environ)
    flush_redis(redis_url)  # first: a Redis that is not there stops the run before it makes any
    var_dir = Path(tempfile.mkdtemp(prefix="owlgrid-bench-"))
    try:
        return Sandbox(var_dir=var_dir, redis_url=redis_url,
                       **database(environ.get("DATABASE_URL", "").strip(), var_dir))
    except BaseException:
        shutil.rmtree(var_dir, ignore_errors=True)
        raise


def destroy(box: Sandbox) -> None:
    """Remove everything the run wrote; each step is tried even if another fails."""
    try:
        if box.postgres_name and box.postgres_server:
            drop_postgres(box.postgres_server, box.postgres_name)
    finally:
        try:
            flush_redis(box.redis_url)
        finally:
            shutil.rmtree(box.var_dir, ignore_errors=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, then atexit runs


def exit_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C (Python's default ends the process without running
    `finally` blocks or atexit), unless the program installed a handler of its own."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


@contextlib.contextmanager
def opened(environ: dict[str, str] | None = None) -> Iterator[Sandbox]:
    """A sandbox whose variables are set in `environ` (os.environ by default) while it is
    open; destroyed on the way out, or at exit should the block never be left."""
    environ = os.environ if environ is None else environ
    box = create(environ)
    closed = False

    def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            destroy(box)

    atexit.register(close)
    exit_on_sigterm()
    saved = {key: environ.get(key) for key in box.environ()}
    environ.update(box.environ())
    try:
        yield box
    finally:
        for key, value in saved.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        close()
        atexit.unregister(close)


def ensure() -> None:
    """For a part run on its own: open a sandbox for this process, closed when it exits. A
    part started by run.py finds the run's sandbox in its environment and keeps it."""
    if os.environ.get(MARKER):
        return
    stack = contextlib.ExitStack()
    stack.enter_context(opened())
    atexit.register(stack.close)
