"""Live log latency: a line committed by a worker → received by a websocket client, on Daphne.

One run writes 10,000 lines as fast as it can, once the client is connected to the run's
websocket (the run's first step waits half a second for it); the client records when each
line arrives. Latency = arrival − the line's commit: the `committed_at` the runner stamps on each
line once its transaction has committed (the issue's "log line committed → websocket client").
Also from the line's `created_at` (stamped before the INSERT, so it adds the INSERT and the
commit: `log_from_insert_*`), lines per second, and lines lost (0 expected).
After a warm-up burst, REPEATS bursts: the figures are medians of their percentiles; lines lost
is the total over all of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from common import median, setup_django, start_workers, stop, wait_until
from webhook import free_port, percentile, start_web

LINES = 10_000
CONNECT_SECONDS = 0.5
REPEATS = 5


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
    # The short wait lets the client finish its websocket handshake before the burst: lines
    # committed before it is connected come from the database backlog, and their latency would
    # measure the handshake (tens of ms on a busy machine), not the live path.
    workflow, _ = publish_workflow("bench-logs", [
        {"name": "settle", "type": "wait", "inputs": {"seconds": CONNECT_SECONDS}},
        {"name": "burst", "type": "log", "inputs": {"message": "line", "repeat": LINES}}])
    return services.run_start(workflow=workflow, trigger_type="manual")


async def watch(url: str, cookie: str, arrivals: dict[int, float],
                committed: dict[int, float]) -> None:
    import websockets

    async with websockets.connect(url, additional_headers={"Cookie": cookie,
                                                           "Origin": "http://127.0.0.1"}) as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
            if message["type"] == "lines":
                now = time.time()
                for line in message["lines"]:
                    arrivals.setdefault(line["seq"], now)
                    if "committed_at" in line:  # lines read from the database have none
                        committed.setdefault(line["seq"], line["committed_at"])
            elif message["status"] in {"completed", "failed"}:
                return


def burst_once(port: int, cookie: str) -> dict:
    from runner.models import LogLine, Run

    run = start_run()
    arrivals: dict[int, float] = {}
    committed: dict[int, float] = {}
    asyncio.run(watch(f"ws://127.0.0.1:{port}/ws/runs/{run.id}/", cookie, arrivals, committed))
    wait_until(lambda: Run.objects.get(id=run.id).status == "completed", 60)
    created = dict(LogLine.objects.filter(run=run).values_list("seq", "created_at"))
    from_insert = [(arrivals[seq] - created[seq].timestamp()) * 1000
                   for seq in created if seq in arrivals]
    # A line that reached the client from the database backlog (no commit stamp) counts from
    # its created_at: never better than its live latency.
    from_commit = [(arrivals[seq] - committed.get(seq, created[seq].timestamp())) * 1000
                   for seq in created if seq in arrivals]
    first = min(created.values())
    last = max(created.values())
    return {
        "p50": percentile(from_commit, 50),
        "p95": percentile(from_commit, 95),
        "insert_p50": percentile(from_insert, 50),
        "insert_p95": percentile(from_insert, 95),
        "lost": len(set(created) - set(arrivals)),
        "per_s": len(created) / max((last - first).total_seconds(), 1e-3),
        "lines": len(created),
    }


def measure() -> dict:
    setup_django()
    port = free_port()
    web = start_web(port)
    workers = start_workers(1)
    try:
        time.sleep(3)
        cookie = session_cookie()
        burst_once(port, cookie)  # warm-up
        bursts = [burst_once(port, cookie) for _ in range(REPEATS)]
        return {
            "log_p50_ms": round(median([b["p50"] for b in bursts]), 2),
            "log_p95_ms": round(median([b["p95"] for b in bursts]), 2),
            "log_p95_ms_each": [b["p95"] for b in bursts],
            "log_from_insert_p50_ms": round(median([b["insert_p50"] for b in bursts]), 2),
            "log_from_insert_p95_ms": round(median([b["insert_p95"] for b in bursts]), 2),
            "log_lines_lost": sum(b["lost"] for b in bursts),
            "log_lines_per_s": round(median([b["per_s"] for b in bursts])),
            "log_lines": sum(b["lines"] for b in bursts),
            "measured_at": datetime.now(UTC).isoformat(),
        }
    finally:
        stop(workers)
        stop(web)


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
