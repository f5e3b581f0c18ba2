"""`schedule`: a cron expression in a time zone, or one date.

The ticks are fired by `runner.cron`; this module describes the settings and shows the next
fire times (computed by `workflows.schedules`) in the editor.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflows.triggers.base import Problem, SettingField, Starter, TriggerType

if TYPE_CHECKING:
    from workflows.models import Trigger, Workflow

SHOWN_FIRE_TIMES = 5


class ScheduleTrigger(TriggerType):
    name = "schedule"
    label = "Schedule"
    description = "A cron expression in a time zone, or one date."
    defaults = {"cron": "0 * * * *", "timezone": "UTC"}
    input_fields = ("trigger.scheduled_at",)
    settings_fields = (
        SettingField("cron", "Cron", help="minute hour day month weekday, e.g. 0 2 * * *"),
        SettingField("seconds", "The cron expression starts with seconds", "bool"),
        SettingField("at", "Or once, at (ISO 8601 with a time zone)"),
        SettingField("timezone", "Time zone", help="e.g. Europe/Paris"),
    )

    def check(self, values: dict[str, Any]) -> list[Problem]:
        cron, at = values.get("cron"), values.get("at")
        if bool(cron) == bool(at):
            return [("cron", "give either a cron expression or a date (`at`)")]
        return [*_cron_problems(cron, seconds=values.get("seconds") is True), *_date_problems(at),
                *_timezone_problems(values.get("timezone", "UTC"))]

    def starter(self, workflow: Workflow, trigger: Trigger) -> Starter:
        values = trigger.settings or {}
        return Starter(summary=self.description, template="workflows/triggers/_schedule.html",
                       info={"next": _next_times(values),
                             "timezone": values.get("timezone") or "UTC"})


def _cron_problems(cron: Any, *, seconds: bool) -> list[Problem]:
    if not cron:
        return []
    from workflows.schedules import cron_problem  # croniter loads when a schedule is checked

    problem = cron_problem(cron, seconds=seconds) if isinstance(cron, str) else (
        f"invalid cron expression {cron!r}")
    return [("cron", problem)] if problem else []


def _date_problems(at: Any) -> list[Problem]:
    if not at:
        return []
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        return [("at", f"not an ISO 8601 date: {at!r}")]
    return [] if when.tzinfo else [("at", "the date needs a time zone, e.g. +00:00")]


def _timezone_problems(name: Any) -> list[Problem]:
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [("timezone", f"unknown time zone {name!r}")]
    return []


def _next_times(values: dict[str, Any]) -> list[datetime]:
    """The next fire times, or none when the settings cannot say (the card says why)."""
    from workflows.schedules import next_fire_times

    try:
        return next_fire_times(values, SHOWN_FIRE_TIMES)
    except (KeyError, ValueError):
        return []
