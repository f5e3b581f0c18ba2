"""Live log latency: a line committed by a worker → received by a websocket client, on Daphne.

One run writes 10,000 lines as fast as it can; a client connected to the run's websocket
records when each line arrives. Latency = arrival − the line's commit time (its created_at,
stamped inside the committing transaction). Also: lines per second, and lines lost (0 expected).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from common import setup_django, start_workers, stop, wait_until
from webhook import free_port, percentile, start_web

LINES = 10_000


def session_cookie() -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    users = get_user_model()
    user = users.objects.filter(username="bench-watcher").first() or users.objects.create_superuser(
        "bench-watcher", "bench@example.com", "bench-watcher-password")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def start_run():
    from runner import services
    from tests.runner.builders import publish_workflow
    from workflows.models import Workflow

    Workflow.objects.filter(name="bench-logs").delete()
    workflow, _ = publish_workflow("bench-logs", [
        {"name": "burst", "type": "log", "inputs": {"message": "line", "repeat": LINES}}])
    return services.run_start(workflow=workflow, trigger_type="manual")


async def watch(url: str, cookie: str, arrivals: dict[int, float]) -> None:
    import websockets

    async with websockets.connect(url, additional_headers={"Cookie": cookie,
                                                           "Origin": "http://127.0.0.1"}) as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
            if message["type"] == "lines":
                now = time.time()
                for line in message["lines"]:
                    arrivals.setdefault(line["seq"], now)
            elif message["status"] in {"completed", "failed"}:
                return


def measure() -> dict:
    setup_django()
    from runner.models import LogLine, Run

    port = free_port()
    web = start_web(port)
    workers = start_workers(1)
    try:
        time.sleep(3)
        cookie = session_cookie()
        run = start_run()
        arrivals: dict[int, float] = {}
        asyncio.run(watch(f"ws://127.0.0.1:{port}/ws/runs/{run.id}/", cookie, arrivals))
        wait_until(lambda: Run.objects.get(id=run.id).status == "completed", 60)
        committed = dict(LogLine.objects.filter(run=run).values_list("seq", "created_at"))
        latencies = [(arrivals[seq] - committed[seq].timestamp()) * 1000
                     for seq in committed if seq in arrivals]
        first = min(committed.values())
        last = max(committed.values())
        return {
            "log_p50_ms": percentile(latencies, 50),
            "log_p95_ms": percentile(latencies, 95),
            "log_lines_lost": len(set(committed) - set(arrivals)),
            "log_lines_per_s": round(len(committed) / max((last - first).total_seconds(), 1e-3)),
            "log_lines": len(committed),
            "measured_at": datetime.now(UTC).isoformat(),
        }
    finally:
        stop(workers)
        stop(web)


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
