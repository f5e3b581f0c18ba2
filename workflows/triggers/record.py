"""`record`: a record written in a collection of the run's environment.

The write is matched by `runner.reactions`; the run's body is the event, the collection and the
record, and `filter` is an expression over `record` and `event`.
"""

from __future__ import annotations

from typing import Any

from workflows.triggers.base import Problem, SettingField, TriggerType

EVENTS = {"created", "updated"}


class RecordTrigger(TriggerType):
    name = "record"
    label = "Record written"
    description = "A record created or updated in a collection, optionally passing a filter."
    defaults = {"collection": "", "events": ["created"]}
    filled_in_later = ("collection",)  # no collection to guess: the user names it next
    input_fields = ("trigger.body.event", "trigger.body.collection", "trigger.body.record")
    settings_fields = (
        SettingField("collection", "Collection"),
        SettingField("events", "Events", "multichoice", tuple(sorted(EVENTS))),
        SettingField("filter", "Only when (expression over record and event)"),
    )

    def check(self, values: dict[str, Any]) -> list[Problem]:
        problems: list[Problem] = []
        if not values.get("collection"):
            problems.append(("collection", "name the collection whose records start the "
                                           "workflow"))
        events = values.get("events", ["created"])
        if not isinstance(events, list) or not set(events) <= EVENTS:
            problems.append(("events", "use a list of 'created' and 'updated'"))
        return problems + _filter_problems(values.get("filter"))


def _filter_problems(source: Any) -> list[Problem]:
    from workflows.expressions import syntax_error

    if source is None:
        return []
    if not isinstance(source, str):
        return [("filter", "use an expression, e.g. {{ record.data.status == 'new' }}")]
    message = syntax_error(source)
    return [("filter", message)] if message else []
