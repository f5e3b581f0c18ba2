"""Faults, for real: processes killed, Redis emptied, the database cut. Nothing is lost, no
completed step runs twice, no run stays `running`."""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connection

from runner import journal, services
from runner.models import LogLine, Run, StepEvent
from tests.execution import subprocess_database_url, wait_for_run, wait_until
from tests.hardening.proxy import CuttableProxy
from tests.runner.builders import publish_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def completed_once(run):
    keys = list(StepEvent.objects.filter(run=run, status="completed").exclude(step_key="")
                .values_list("step_key", flat=True))
    return len(keys) == len(set(keys))


def test_long_wait_resumes_from_the_database_after_workers_and_redis_are_gone(workers,
                                                                             redis_conn):
    """Fault: a one-hour wait; every worker killed and Redis emptied; the deadline passes."""
    workflow, _ = publish_workflow("patient", [
        {"name": "nap", "type": "wait", "inputs": {"seconds": 3600}},
        {"name": "wake", "type": "log", "inputs": {"message": "awake"}},
    ])
    first = workers.start(1)
    run = wait_for_run(services.run_start(workflow=workflow, trigger_type="manual").id,
                       statuses=("waiting",))
    workers.kill(first, signal.SIGKILL)
    redis_conn.flushdb()  # the scheduled wake-up is gone with Redis
    # An hour passes: the stored deadline is now in the past (a new journal event says so).
    waiting = StepEvent.objects.filter(run=run, step_key="nap").latest("id")
    past = "2000-01-01T00:00:00+00:00"
    journal.event_like(waiting, output={"state": {"deadline": past}}).save()
    Run.objects.filter(id=run.id).update(wake_at="2000-01-01T00:00:00Z")
    workers.start(1)
    run = wait_for_run(run.id, timeout=30)
    assert run.status == "completed"
    assert LogLine.objects.filter(run=run, message="awake").count() == 1


def test_redis_restarted_empty_during_queued_and_running_runs_loses_nothing(workers,
                                                                            redis_conn):
    """Fault: Redis restarts without its data while runs are queued and running: every
    client connection drops (CLIENT KILL, as a restart does) and every key is gone."""
    workflow, _ = publish_workflow("flushed-running", [
        {"name": f"step{i}", "type": "log", "inputs": {"message": f"line {i}"}}
        for i in range(5)
    ] + [{"name": "pause", "type": "wait", "inputs": {"seconds": 0.5}}])
    runs = [services.run_start(workflow=workflow, trigger_type="manual") for _ in range(5)]
    workers.start(1)
    wait_until(lambda: Run.objects.filter(status="running").exists()
               or Run.objects.filter(status="completed").exists())
    redis_conn.flushdb()
    redis_conn.client_kill_filter(_type="normal", skipme=True)
    finished = [wait_for_run(run.id, timeout=60) for run in runs]
    assert [run.status for run in finished] == ["completed"] * 5
    for run in finished:
        assert LogLine.objects.filter(run=run).count() == 5 and completed_once(run)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the database cut is a TCP proxy in front of PostgreSQL")
def test_database_unreachable_for_a_few_seconds(workers):
    """Fault: the workers' database connection cut for 4 s in the middle of a run."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(subprocess_database_url())
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    through_proxy = urlunsplit(parts._replace(netloc=netloc))
    steps = []
    for i in range(6):
        steps += [{"name": f"say{i}", "type": "log", "inputs": {"message": f"line {i}"}},
                  {"name": f"nap{i}", "type": "wait", "inputs": {"seconds": 0.5}}]
    workflow, _ = publish_workflow("outage", steps)
    workers.start(1, DATABASE_URL=through_proxy)
    run = services.run_start(workflow=workflow, trigger_type="manual")
    try:
        wait_until(lambda: LogLine.objects.filter(run=run).exists())
        proxy.pause()
        cut_at = time.monotonic()
        # Cut until the worker has met the outage (its reconnection refused), 4 s at least.
        wait_until(lambda: proxy.refused and time.monotonic() - cut_at >= 4, timeout=30)
        proxy.resume()
        run = wait_for_run(run.id, timeout=60)
    finally:
        proxy.close()
    assert run.status == "completed", run.error
    assert completed_once(run)
    messages = list(LogLine.objects.filter(run=run).values_list("message", flat=True))
    assert {f"line {i}" for i in range(6)} <= set(messages)
