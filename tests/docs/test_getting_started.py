"""Runs the getting-started guide's commands as written, against a real `manage.py serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

BASE = Path(__file__).resolve().parents[2]
GUIDE = BASE / "docs" / "getting-started.md"


def shell_blocks() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    return [block for block in blocks if block.strip() != "make run"]


def wait_for(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own server
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def served(tmp_path, redis_conn):
    """`make run`'s own command (`manage.py serve`), in a scratch var dir with SQLite."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(OWLGRID_VAR_DIR=str(tmp_path / "var"), REDIS_URL=settings.REDIS_URL,
               OWLGRID_ADMIN_PASSWORD="getting-started-123", OWLGRID_WORKERS="1")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "serve", "--port", "8765"], cwd=BASE, env=env,
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("http://127.0.0.1:8765/login/")
        yield env
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)


def test_the_guide_works_as_written(served):
    script = "set -euo pipefail\n" + "\n".join(shell_blocks())
    script = script.replace("127.0.0.1:8000", "127.0.0.1:8765")
    try:
        done = subprocess.run(["bash", "-c", script], cwd=BASE, env=served,  # noqa: S603, S607
                              capture_output=True, text=True, timeout=240, check=False)
    finally:
        (BASE / "my-first.json").unlink(missing_ok=True)
    assert done.returncode == 0, done.stdout + done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert {"message": "Hello Ada!"} in answers
    assert {"doubled": 42} in answers
    assert "my-first v1 now runs in staging" in done.stdout
