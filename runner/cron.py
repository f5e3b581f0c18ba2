"""Schedule triggers: cron expressions in a time zone, and one-off dates.

Each (trigger, environment, tick) is fired exactly once however many scheduler processes run:
the run is started in the same transaction as the insert of its unique ScheduleTick row.
Ticks older than CATCH_UP are skipped (a scheduler down for a day does not replay the day).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from croniter import croniter
from django.db import IntegrityError, transaction
from django.utils import timezone

from environments.models import Deployment
from runner import services
from runner.models import ScheduleTick
from workflows.models import Trigger

CATCH_UP = timedelta(minutes=5)


def latest_tick(trigger_settings: dict, now: datetime) -> datetime | None:
    if trigger_settings.get("at"):
        at = datetime.fromisoformat(trigger_settings["at"])
        return at if at <= now else None
    zone = zoneinfo.ZoneInfo(trigger_settings.get("timezone", "UTC"))
    local_now = now.astimezone(zone)
    if croniter.match(trigger_settings["cron"], local_now.replace(microsecond=0)):
        return local_now.replace(microsecond=0)
    return croniter(trigger_settings["cron"], local_now).get_prev(datetime)


def fire_due_schedules(now: datetime | None = None) -> int:
    """Start the run of every due tick not fired yet; returns how many this call started."""
    now = now or timezone.now()
    fired = 0
    deployments = Deployment.objects.filter(workflow__active=True).select_related(
        "workflow", "version", "environment"
    )
    for deployment in deployments:
        for trigger in deployment.version.triggers.filter(type=Trigger.Type.SCHEDULE):
            tick = latest_tick(trigger.settings or {}, now)
            if tick is not None and now - tick <= CATCH_UP and fire(deployment, trigger, tick):
                fired += 1
    return fired


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
