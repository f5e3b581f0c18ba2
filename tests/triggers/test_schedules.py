"""Schedule triggers fire each tick exactly once, however many schedulers run."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone

from environments.models import Deployment
from runner.cron import fire_due_schedules
from runner.models import Run, ScheduleTick
from workflows.format import workflow_import
from workflows.schedules import next_fire_times

pytestmark = pytest.mark.django_db(transaction=True)


def deploy(environment, settings):
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "ticker",
        "actions": [{"name": "tick", "type": "log", "inputs": {"message": "tick"}}],
        "triggers": [{"name": "clock", "type": "schedule", "settings": settings,
                      "access": {"mode": "public"}}],
    }, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environment,
                              version=version)
    # Deployed long before the simulated clock of the tests below.
    Deployment.objects.update(deployed_at=datetime(2026, 1, 1, tzinfo=UTC))
    return version.workflow


def test_next_fire_times_follow_the_time_zone():
    after = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    times = next_fire_times({"cron": "0 9 * * *", "timezone": "Europe/Paris"}, 2, after)
    assert [t.astimezone(UTC).hour for t in times] == [8, 8]


def fire_and_close(now):
    try:
        fire_due_schedules(now)
    finally:
        connections.close_all()


def test_each_tick_fires_once_with_concurrent_schedulers(environments, redis_conn):
    deploy(environments["dev"], {"cron": "*/5 * * * *", "timezone": "UTC"})
    start = datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC)
    for minute in (0, 5, 10):
        now = start + timedelta(minutes=minute)
        threads = [threading.Thread(target=fire_and_close, args=(now,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert Run.objects.count() == 3
    assert ScheduleTick.objects.count() == 3


def test_two_scheduler_processes_fire_every_tick_once(environments, workers):
    workflow = deploy(environments["dev"], {"cron": "* * * * * */2", "timezone": "UTC"})
    Deployment.objects.update(deployed_at=timezone.now())
    workers.start(1)
    workers.start(1)
    time.sleep(8)
    workflow.__class__.objects.filter(id=workflow.id).update(active=False)
    time.sleep(1.5)
    ticks = sorted(ScheduleTick.objects.values_list("tick_at", flat=True))
    assert len(ticks) >= 3 and len(ticks) == len(set(ticks))
    assert all((b - a).total_seconds() == 2 for a, b in zip(ticks, ticks[1:], strict=False))
    assert Run.objects.filter(trigger_type="schedule").count() == len(ticks)


def test_a_killed_scheduler_loses_no_tick(environments, workers):
    """Fault: the scheduler process is SIGKILLed between two ticks; another one takes over."""
    import signal

    workflow = deploy(environments["dev"], {"cron": "* * * * * */2", "timezone": "UTC"})
    Deployment.objects.update(deployed_at=timezone.now())
    first = workers.start(1)
    time.sleep(4)
    workers.kill(first, signal.SIGKILL)
    time.sleep(3)  # ticks come due while no scheduler runs
    workers.start(1)
    time.sleep(5)
    workflow.__class__.objects.filter(id=workflow.id).update(active=False)
    time.sleep(1.5)
    ticks = sorted(ScheduleTick.objects.values_list("tick_at", flat=True))
    assert len(ticks) >= 5
    assert all((b - a).total_seconds() == 2 for a, b in zip(ticks, ticks[1:], strict=False))
    assert Run.objects.filter(trigger_type="schedule").count() == len(ticks)


def test_a_date_trigger_fires_once(environments, redis_conn):
    at = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    deploy(environments["dev"], {"at": at.isoformat()})
    assert fire_due_schedules(at - timedelta(seconds=1)) == 0
    assert fire_due_schedules(at + timedelta(seconds=1)) == 1
    assert fire_due_schedules(at + timedelta(seconds=30)) == 0
