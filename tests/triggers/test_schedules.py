"""Schedule triggers fire each tick exactly once, however many schedulers run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone
from rq import Worker

from environments.models import Deployment
from runner.cron import fire_due_schedules
from runner.models import Run, ScheduleTick
from tests.execution import wait_until
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


def schedulers_running(redis_conn, count):
    """Each `run_workers` launcher fires the schedules in its loop, which it enters before its
    RQ worker registers in Redis: `count` workers registered, `count` schedulers running."""
    return Worker.count(connection=redis_conn) >= count


def ticks_fired():
    return sorted(ScheduleTick.objects.values_list("tick_at", flat=True))


def assert_every_tick_fired_once(ticks):
    assert len(ticks) == len(set(ticks))
    assert all((b - a).total_seconds() == 2 for a, b in zip(ticks, ticks[1:], strict=False))
    assert Run.objects.filter(trigger_type="schedule").count() == len(ticks)


def test_two_scheduler_processes_fire_every_tick_once(environments, workers, redis_conn):
    deploy(environments["dev"], {"cron": "*/2 * * * * *", "seconds": True, "timezone": "UTC"})
    Deployment.objects.update(deployed_at=timezone.now())
    workers.start(1)
    workers.start(1)
    wait_until(lambda: schedulers_running(redis_conn, 2), timeout=30)
    both = timezone.now()
    wait_until(lambda: len([t for t in ticks_fired() if t > both]) >= 3, timeout=30)
    # Stopped, not merely paused: no scheduler is left in the middle of firing a tick.
    workers.stop_all()
    assert_every_tick_fired_once(ticks_fired())


@pytest.mark.e2e
def test_a_killed_scheduler_loses_no_tick(environments, workers, redis_conn):
    """Fault: the scheduler process is SIGKILLed between two ticks; another one takes over."""
    import signal

    deploy(environments["dev"], {"cron": "*/2 * * * * *", "seconds": True, "timezone": "UTC"})
    Deployment.objects.update(deployed_at=timezone.now())
    first = workers.start(1)
    wait_until(lambda: len(ticks_fired()) >= 2, timeout=30)
    workers.kill(first, signal.SIGKILL)
    before = ticks_fired()
    # Ticks come due while no scheduler runs: two of them, on the clock.
    wait_until(lambda: timezone.now() > before[-1] + timedelta(seconds=4, milliseconds=100),
               timeout=10)
    assert ticks_fired() == before  # nothing fired them meanwhile
    workers.start(1)
    restarted = timezone.now()
    wait_until(lambda: ticks_fired()[-1] > restarted, timeout=30)
    workers.stop_all()
    ticks = ticks_fired()
    assert len(ticks) >= 5
    assert_every_tick_fired_once(ticks)


def test_a_date_trigger_fires_once(environments, redis_conn):
    at = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    deploy(environments["dev"], {"at": at.isoformat()})
    assert fire_due_schedules(at - timedelta(seconds=1)) == 0
    assert fire_due_schedules(at + timedelta(seconds=1)) == 1
    assert fire_due_schedules(at + timedelta(seconds=30)) == 0
