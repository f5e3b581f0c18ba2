"""Runs the getting-started guide's commands as written, against a real `manage.py serve`."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.execution import free_port

pytestmark = pytest.mark.e2e
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
    """`make run`'s own command (`manage.py serve`), in a scratch var dir with SQLite, on a
    port the OS says is free; returns the environment and the server's address."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(OWLGRID_VAR_DIR=str(tmp_path / "var"), REDIS_URL=settings.REDIS_URL,
               OWLGRID_ADMIN_PASSWORD="getting-started-123", OWLGRID_WORKERS="1")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=BASE, env=env,
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/login/")
        yield env, f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)


def test_the_guide_works_as_written(served, tmp_path):
    env, address = served
    script = "set -euo pipefail\n" + "\n".join(shell_blocks())
    # The guide's server and interpreter (the .venv `make run` makes) are this test's own, and
    # the file it writes goes to a scratch directory, not into the checkout.
    manage = f"{shlex.quote(sys.executable)} {shlex.quote(str(BASE / 'manage.py'))}"
    assert script.count(".venv/") == script.count(".venv/bin/python manage.py"), (
        "a command of the guide this test cannot run from elsewhere")
    script = script.replace("127.0.0.1:8000", address)
    script = script.replace(".venv/bin/python manage.py", manage)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,  # noqa: S603, S607
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert {"message": "Hello Ada!"} in answers
    assert {"doubled": 42} in answers
    assert "my-first v1 now runs in staging" in done.stdout
