"""`make bench`: every benchmark against the real stack, with its baseline, in one run.

Each part runs in its own process (a fresh interpreter, its own workers), prints JSON, and the
figures are merged into bench/results/latest.json and a markdown table. A part that fails is
reported as such with its error, never as a number.

Everything runs in a sandbox (bench/sandbox.py): a temporary database of the kind DATABASE_URL
names (SQLite by default; PostgreSQL when it is a postgres:// URL, a new database on that
server), a temporary var dir and a Redis database of the bench's own, all removed at the end.
The user's database and Redis are never read nor emptied.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import sandbox  # noqa: E402 - importable once the checkout is on the path

RESULTS = HERE / "results"
PARTS = ["engine.py", "limits.py", "memory.py", "rq_ceiling.py", "webhook.py", "logs.py",
         "history.py"]
PART_TIMEOUT = 900  # a safety net for a hung part; a busy 2-core machine took 9 minutes for one
PART_TIMEOUTS = {"history.py": 1800}  # four phases and a history: 5-6 minutes, lightly loaded
STOP_SECONDS = 30

TARGETS = {
    "engine_step_ms": "≤ 2",
    "webhook_sync_p50_ms": "≤ 10",
    "webhook_sync_p95_ms": "≤ 20",
    "webhook_runs_per_s": "≥ 500",
    "log_p95_ms": "≤ 10",
    "log_lines_lost": "0",
    "worker_idle_rss_mb": "≤ 80",
    "web_idle_rss_mb": "≤ 80",
    "history_slowdown_sync_p50": "≤ 1.1",
    "history_slowdown_runs_per_s": "≤ 1.1",
}

# Each figure divided by its baseline from the same run (the engine's own ratio is engine.py's).
RATIOS = {
    "ratio_sync_p50_to_view_p50": ("webhook_sync_p50_ms", "baseline_django_view_p50_ms"),
    "ratio_sync_p95_to_view_p95": ("webhook_sync_p95_ms", "baseline_django_view_p95_ms"),
    "ratio_runs_to_view_calls": ("webhook_runs_per_s", "baseline_django_view_per_s"),
    "ratio_runs_to_rq_jobs": ("webhook_runs_per_s", "baseline_rq_jobs_per_s_2_workers"),
}
CALIBRATION_ITERATIONS = 200_000
CALIBRATION_ROUNDS = 15
CALIBRATION = compile(f"x = 0\nfor i in range({CALIBRATION_ITERATIONS}):\n    x += i\n",
                      "<calibration>", "exec")


def run_part(name: str) -> dict:
    path = HERE / name
    if not path.exists():
        return {f"{name}:error": "not written yet"}
    began = time.monotonic()
    # A session of its own: Ctrl-C reaches only this process, which stops the part with
    # SIGTERM, and the part stops its workers and Daphne before the sandbox is removed.
    part = subprocess.Popen(  # noqa: S603
        [sys.executable, str(path)], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        stdout, stderr = part.communicate(timeout=PART_TIMEOUTS.get(name, PART_TIMEOUT))
    except subprocess.TimeoutExpired:
        stop_part(part)
        return {f"{name}:error": f"timed out after {PART_TIMEOUTS.get(name, PART_TIMEOUT)}s"}
    except BaseException:
        stop_part(part)
        raise
    if part.returncode != 0:
        return {f"{name}:error": stderr.strip().splitlines()[-1:] or ["failed"]}
    figures = json.loads(stdout[stdout.index("{"):])
    figures[f"{name}:seconds"] = round(time.monotonic() - began, 1)
    return figures


def stop_part(part: subprocess.Popen) -> None:
    """SIGTERM, time to clean up (its `finally` blocks stop its processes), then SIGKILL."""
    part.terminate()
    try:
        part.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        part.kill()
        part.communicate()


def with_ratios(results: dict) -> dict:
    """Add each figure's ratio to its baseline, where both were measured."""
    for key, (figure, baseline) in RATIOS.items():
        value, base = results.get(figure), results.get(baseline)
        if isinstance(value, int | float) and isinstance(base, int | float) and base > 0:
            results[key] = round(value / base, 2)
    return results


def python_loop_ns() -> dict[str, float]:
    """The machine's speed at plain Python: ns per iteration of a module-level `x += i` loop,
    the fastest and the median of fifteen rounds. The same code's latencies moved by a factor
    of two with it from one session's machine to the next, and within a minute it varies by a
    third (docs/performance.md), so each run records it at its start and at its end."""
    times = []
    for _ in range(CALIBRATION_ROUNDS):
        began = time.perf_counter()
        exec(CALIBRATION, {})  # noqa: S102 - a constant loop, compiled above
        times.append((time.perf_counter() - began) * 1e9 / CALIBRATION_ITERATIONS)
    return {"min": round(min(times), 1), "median": round(statistics.median(times), 1)}


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
    connection.close()  # the sandbox's database is dropped at the end: hold no connection
    return {"nproc": os.cpu_count(), "cpu": cpu, "load_average_at_start": os.getloadavg(),
            "python_loop_ns_at_start": python_loop_ns(), **versions}


def described(box: sandbox.Sandbox) -> str:
    """Which kind of database the run used (its URL names a temporary one)."""
    if box.postgres_name:
        return f"postgresql (temporary database {box.postgres_name})"
    return "sqlite (temporary file)"


def measured(parts: list[str]) -> dict:
    """The parts' figures, measured in a sandbox that is gone when this returns."""
    with sandbox.opened() as box:
        results: dict = {"database": described(box), "machine": machine()}
        for part in parts:
            results.update(run_part(part))
    return results


def main() -> None:
    """`python bench/run.py` runs every part; `python bench/run.py webhook.py sync_profile.py`
    runs those only (sync_profile.py is not in `make bench`: it explains a sync figure)."""
    results = measured(sys.argv[1:] or PARTS)
    with_ratios(results)
    results["python_loop_ns_at_end"] = python_loop_ns()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
