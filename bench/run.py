"""`make bench`: every benchmark against the real stack, with its baseline, in one run.

Each part runs in its own process (a fresh interpreter, its own workers), prints JSON, and the
figures are merged into bench/results/latest.json and a markdown table. A part that fails is
reported as such with its error, never as a number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PARTS = ["engine.py", "memory.py", "webhook.py", "logs.py"]
PART_TIMEOUT = 420

TARGETS = {
    "engine_step_ms": "≤ 2",
    "webhook_sync_p50_ms": "≤ 10",
    "webhook_sync_p95_ms": "≤ 20",
    "webhook_runs_per_s": "≥ 500",
    "log_p95_ms": "≤ 10",
    "log_lines_lost": "0",
    "worker_idle_rss_mb": "≤ 80",
    "web_idle_rss_mb": "≤ 80",
}


def run_part(name: str) -> dict:
    path = HERE / name
    if not path.exists():
        return {f"{name}:error": "not written yet"}
    began = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(path)], cwd=HERE, capture_output=True, text=True,
            timeout=PART_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired:
        return {f"{name}:error": f"timed out after {PART_TIMEOUT}s"}
    if done.returncode != 0:
        return {f"{name}:error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    figures = json.loads(done.stdout[done.stdout.index("{"):])
    figures[f"{name}:seconds"] = round(time.monotonic() - began, 1)
    return figures


def markdown(results: dict) -> str:
    rows = ["| key | value | target |", "|---|---|---|"]
    for key, value in results.items():
        rows.append(f"| `{key}` | {value} | {TARGETS.get(key, '')} |")
    return "\n".join(rows) + "\n"


def machine() -> dict:
    """What the figures were measured on (they mean little without it)."""
    import platform

    import django

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), platform.processor())
    versions = {"python": platform.python_version(), "django": django.get_version()}
    sys.path.insert(0, str(HERE.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "owlgrid_site.settings")
    django.setup()
    from django.db import connection

    from runner.queueing import get_queue

    versions["redis"] = get_queue().connection.info("server")["redis_version"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        versions[connection.vendor] = cursor.fetchone()[0]
    return {"nproc": os.cpu_count(), "cpu": cpu, "load_average_at_start": os.getloadavg(),
            **versions}


def main() -> None:
    results: dict = {"database": os.environ.get("DATABASE_URL", "sqlite (default)"),
                     "machine": machine()}
    for part in PARTS:
        results.update(run_part(part))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
