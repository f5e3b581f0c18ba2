"""Schedule triggers: cron expressions in a time zone, and one-off dates.

Each (trigger, environment, tick) is fired exactly once however many scheduler processes run:
the run is started in the same transaction as the insert of its unique ScheduleTick row.
Ticks missed while every scheduler was down are fired when one comes back, back to CATCH_UP;
older ones are skipped (a scheduler down for a day does not replay the day).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from environments.models import Deployment
from runner import services
from runner.models import ScheduleTick
from workflows.models import Trigger
from workflows.schedules import cron_schedule

CATCH_UP = timedelta(minutes=5)
MAX_TICKS_PER_PASS = 600


def due_ticks(trigger_settings: dict, since: datetime, now: datetime) -> list[datetime]:
    """Every tick in (since, now]: a scheduler that was down a moment loses no tick."""
    if trigger_settings.get("at"):
        at = datetime.fromisoformat(trigger_settings["at"])
        return [at] if since < at <= now else []
    schedule = cron_schedule(trigger_settings, since)
    ticks: list[datetime] = []
    while len(ticks) < MAX_TICKS_PER_PASS:
        tick = schedule.get_next(datetime)
        if tick > now:
            break
        ticks.append(tick)
    return ticks


def fire_due_schedules(now: datetime | None = None) -> int:
    """Start the run of every due tick not fired yet; returns how many this call started."""
    now = now or timezone.now()
    fired = 0
    deployments = Deployment.objects.filter(workflow__active=True).select_related(
        "workflow", "version", "environment"
    )
    for deployment in deployments:
        for trigger in deployment.version.triggers.filter(type=Trigger.Type.SCHEDULE):
            since = resume_point(trigger, deployment, now)
            for tick in due_ticks(trigger.settings or {}, since, now):
                fired += fire(deployment, trigger, tick)
    return fired


def resume_point(trigger: Trigger, deployment: Deployment, now: datetime) -> datetime:
    """After the last tick fired, never before the deployment, nor more than CATCH_UP ago."""
    last = (
        ScheduleTick.objects.filter(trigger=trigger, environment=deployment.environment)
        .order_by("-tick_at").values_list("tick_at", flat=True).first()
    )
    floor = max(now - CATCH_UP, deployment.deployed_at)
    return max(last, floor) if last else floor


def fire(deployment: Deployment, trigger: Trigger, tick: datetime) -> bool:
    try:
        with transaction.atomic():
            row = ScheduleTick.objects.create(trigger=trigger, environment=deployment.environment,
                                              tick_at=tick)
            run = services.run_start(
                workflow=deployment.workflow, version=deployment.version,
                environment=deployment.environment, trigger=trigger, trigger_type="schedule",
                trigger_input={"scheduled_at": tick.isoformat(), "body": {}},
            )
            ScheduleTick.objects.filter(id=row.id).update(run=run)
    except IntegrityError:
        return False  # another scheduler fired this tick
    return True
