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
    zone = zoneinfo.ZoneInfo(trigger_settings.get("timezone", "UTC"))
    schedule = croniter(trigger_settings["cron"], after.astimezone(zone))
    return [schedule.get_next(datetime) for _ in range(count)]
