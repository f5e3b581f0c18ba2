"""When schedule triggers fire: cron expressions in a time zone, or a single date."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from croniter import croniter
from django.utils import timezone


def next_fire_times(trigger_settings: dict, count: int = 5,
                    after: datetime | None = None) -> list[datetime]:
    """The next `count` times a schedule fires (for the editor)."""
    after = after or timezone.now()
    if trigger_settings.get("at"):
        at = datetime.fromisoformat(trigger_settings["at"])
        return [at] if at > after else []
    schedule = cron_schedule(trigger_settings, after)
    return [schedule.get_next(datetime) for _ in range(count)]


def cron_schedule(trigger_settings: dict, start: datetime) -> croniter:
    """The trigger's cron expression from `start`, in its time zone. Five fields; six only
    with `"seconds": true`, and then the seconds come first."""
    zone = zoneinfo.ZoneInfo(trigger_settings.get("timezone", "UTC"))
    return croniter(trigger_settings["cron"], start.astimezone(zone),
                    second_at_beginning=bool(trigger_settings.get("seconds")))


def cron_problem(cron: str, *, seconds: bool) -> str | None:
    """Why a cron expression cannot be used as written, or None."""
    fields = len(cron.split())
    if fields == 6 and not seconds:
        return (f"{cron!r} has six fields: cron takes five (minute hour day month weekday); "
                'for seconds set "seconds": true and put them first')
    if fields != (6 if seconds else 5):
        return (f"{cron!r} has {fields} fields: " + (
            "with seconds, six (second minute hour day month weekday)" if seconds
            else "five are needed (minute hour day month weekday)"))
    if not croniter.is_valid(cron, second_at_beginning=seconds):
        return f"invalid cron expression {cron!r}"
    return None
