"""Read OwlGrid's configuration from the process environment, failing loudly on bad values.

Each reader names the variable and what was wrong, so a typo in a deployment stops the process
at start-up instead of surfacing later as a strange behaviour.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from dj_database_url import DBConfig

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
SQLITE_ENGINE = "django.db.backends.sqlite3"
# Django's documented SQLite options: every transaction takes the write lock up front, so none
# fails half-way on upgrading a read lock; WAL lets readers go on while a worker writes; a
# writer waits up to `timeout` seconds for the lock.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of {sorted(TRUE_WORDS | FALSE_WORDS - {''})}"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at `path`, generating it on first run (never in the repo)."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def secret_key(var_dir: Path) -> str:
    value = os.environ.get("SECRET_KEY")
    if value is not None:
        if len(value) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return value
    return read_or_create_secret(var_dir / "secret_key", lambda: secrets.token_urlsafe(50))


def fernet_key_is_valid(key: str) -> bool:
    """What cryptography's `Fernet(key)` accepts: url-safe base64 of 32 bytes, decoded the same
    way. Checked without importing cryptography, so that settings do not load its bindings into
    every process."""
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        return False


def new_fernet_key() -> str:
    """The same as `Fernet.generate_key()`: 32 random bytes, url-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def secrets_keys(var_dir: Path) -> list[str]:
    """The MultiFernet keys, newest first; the first one encrypts, all of them decrypt."""
    raw = os.environ.get("OWLGRID_SECRETS_KEYS")
    if raw is None:
        raw = read_or_create_secret(var_dir / "secrets_keys", new_fernet_key)
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("OWLGRID_SECRETS_KEYS is empty")
    for index, key in enumerate(keys):
        if not fernet_key_is_valid(key):
            raise ImproperlyConfigured(
                f"OWLGRID_SECRETS_KEYS item {index + 1} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            )
    return keys


def database_config(var_dir: Path) -> DBConfig:
    import dj_database_url

    raw = os.environ.get("DATABASE_URL")
    if raw is None or raw.strip() == "":
        var_dir.mkdir(parents=True, exist_ok=True)
        raw = f"sqlite:///{var_dir / 'owlgrid.sqlite3'}"
    scheme = urlparse(raw).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:// or postgres://"
        )
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
        config["TEST"] = {"NAME": str(var_dir / "test.sqlite3")}
    return config


def web_database_connections(databases: dict) -> None:
    """PostgreSQL connections of the web process come from Django's connection pool
    (`OPTIONS["pool"]`, OWLGRID_WEB_DB_POOL at most): under ASGI each request runs in a thread
    of its own, so persistent connections would pile up one per thread."""
    size = env_int("OWLGRID_WEB_DB_POOL", 10, minimum=1)
    for database in databases.values():
        if database["ENGINE"] == "django.db.backends.postgresql":
            database["CONN_MAX_AGE"] = 0
            database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": 1, "max_size": size, "timeout": 10, "max_idle": 300}


def redis_listening(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def redis_url(var_dir: Path) -> str:
    """REDIS_URL, else a Redis on 127.0.0.1:6379, else the embedded one under var/."""
    raw = os.environ.get("REDIS_URL")
    if raw is not None and raw.strip():
        scheme = urlparse(raw).scheme
        if scheme not in {"redis", "rediss", "unix"}:
            raise ImproperlyConfigured(
                f"REDIS_URL scheme {scheme!r} is not supported: use redis://, rediss:// or unix://"
            )
        return raw
    if redis_listening():
        return "redis://127.0.0.1:6379/0"
    return f"unix://{var_dir / 'redis.sock'}?db=0"
