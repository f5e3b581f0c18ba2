"""The trigger catalogue: each type's settings check, and everything derived from the registry."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from workflows.format import ImportErrors, workflow_import
from workflows.format_validation import check_trigger, workflow_schema
from workflows.models import Trigger
from workflows.triggers import REGISTRY, UnknownTriggerType, get_trigger_type

# One bad value per type: (type, settings, the settings field blamed, words of its message).
BAD_SETTINGS = [
    ("http", {"methods": ["FETCH"]}, "methods", "use a list of ['DELETE', 'GET'"),
    ("http", {"mode": "later"}, "mode", "'sync' or 'async'"),
    ("http", {"timeout": 61}, "timeout", "between 0 and 60"),
    ("http", {"json_schema": {"type": "thing"}}, "json_schema", "not a valid JSON Schema"),
    ("http", {"max_body_bytes": 0}, "max_body_bytes", "positive integer"),
    ("http", {"rate_limit_per_minute": "ten"}, "rate_limit_per_minute", "positive integer"),
    ("schedule", {"cron": "61 * * * *"}, "cron", "invalid cron expression '61 * * * *'"),
    ("schedule", {}, "cron", "either a cron expression or a date"),
    ("schedule", {"cron": "*/10 * * * * *"}, "cron", 'six fields: cron takes five'),
    ("schedule", {"cron": "0 * * * *", "seconds": True}, "cron",
     "with seconds, six (second minute hour"),
    ("schedule", {"cron": "0 * * * *", "at": "2030-01-01T00:00:00+00:00"}, "cron",
     "either a cron expression or a date"),
    ("schedule", {"at": "next tuesday"}, "at", "not an ISO 8601 date"),
    ("schedule", {"at": "2030-01-01T00:00:00"}, "at", "needs a time zone"),
    ("schedule", {"cron": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone",
     "unknown time zone 'Mars/Olympus'"),
    ("manual", {"json_schema": {"type": 3}}, "json_schema", "not a valid JSON Schema"),
    ("workflow", {"json_schema": {"required": "id"}}, "json_schema", "not a valid JSON Schema"),
    ("record", {"events": ["created"]}, "collection", "name the collection"),
    ("record", {"collection": "orders", "events": ["deleted"]}, "events",
     "'created' and 'updated'"),
    ("record", {"collection": "orders", "filter": 3}, "filter", "use an expression"),
    ("record", {"collection": "orders", "filter": "{{ record.data.status == }}"}, "filter", ""),
    ("run", {"statuses": ["failed"]}, "workflow", "name the workflow whose runs are watched"),
    ("run", {"workflow": "*", "statuses": []}, "statuses", "'completed', 'failed'"),
    ("run", {"workflow": "*", "statuses": ["paused"]}, "statuses", "'completed', 'failed'"),
]


@pytest.mark.parametrize(("type_", "settings", "field", "words"), BAD_SETTINGS,
                         ids=[f"{t}-{f}-{i}" for i, (t, _, f, _w) in enumerate(BAD_SETTINGS)])
def test_each_settings_check_names_the_bad_field(type_, settings, field, words):
    problems = dict(get_trigger_type(type_).check(settings))
    assert list(problems) == [field]
    assert words in problems[field]


def test_every_type_has_a_bad_value_tested():
    assert {type_ for type_, *_ in BAD_SETTINGS} == set(REGISTRY)


@pytest.mark.parametrize("type_", list(REGISTRY))
def test_defaults_pass_the_check_but_for_what_the_user_fills_in(type_):
    trigger_type = REGISTRY[type_]
    settings = trigger_type.default_settings()
    assert {field for field, _ in trigger_type.check(settings)} <= set(
        trigger_type.filled_in_later)
    settings["changed"] = True
    assert "changed" not in trigger_type.defaults  # a copy, never the shared defaults


@pytest.mark.parametrize("type_", list(REGISTRY))
def test_every_type_has_a_label_and_a_summary(type_):
    trigger_type = REGISTRY[type_]
    assert trigger_type.name == type_
    assert trigger_type.label and trigger_type.description
    assert trigger_type.default_access in {"group", "public"}


def test_an_unknown_type_names_the_known_ones():
    with pytest.raises(UnknownTriggerType, match="known types: http, schedule"):
        get_trigger_type("carrier_pigeon")


def test_import_paths_point_at_the_settings_field(db):
    document = {"name": "t", "type": "run", "settings": {"workflow": "*", "statuses": ["x"]}}
    assert check_trigger(document, "triggers[0]") == [
        ("triggers[0].settings.statuses", "use a list of 'completed', 'failed' and 'cancelled'")]


# --- what the registry feeds --------------------------------------------------------------------


def test_model_choices_and_constraint_come_from_the_registry():
    field = Trigger._meta.get_field("type")
    assert [value for value, _ in field.choices] == list(REGISTRY)
    assert dict(field.choices) == {name: t.label for name, t in REGISTRY.items()}
    assert Trigger.Type.HTTP == "http" and Trigger.Type.RUN.label == "Another run finished"
    (constraint,) = [c for c in Trigger._meta.constraints if c.name == "trigger_known_type"]
    assert constraint.condition.children == [("type__in", list(REGISTRY))]


def test_schema_enum_comes_from_the_registry():
    trigger = workflow_schema()["$defs"]["trigger"]["properties"]["type"]
    assert trigger["enum"] == list(REGISTRY)


def test_an_unknown_type_is_refused_on_import_with_the_known_ones(db):
    document = {"format": "owlgrid.workflow/v1", "name": "pigeons", "actions": [],
                "triggers": [{"name": "coo", "type": "pigeon"}]}
    with pytest.raises(ImportErrors) as caught:
        workflow_import(document=document)
    ((path, message),) = caught.value.problems
    assert path == "triggers[0].type"
    assert all(repr(name) in message for name in REGISTRY)


# --- the editor ---------------------------------------------------------------------------------


@pytest.fixture
def workflow(ops_group, admin_user):
    from workflows import services

    workflow, _ = services.workflow_create(name="orders", user=admin_user,
                                           perimeters=[ops_group])
    return workflow


def draft_of(workflow):
    from workflows import services

    return services.draft_get_or_create(workflow=workflow)


def menu_options(page: str, label: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="[a-z]+" aria-label="{label}">(.*?)</select>', page,
                       re.S)
    assert select, f"no {label} menu"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_the_editor_menu_offers_every_registered_type(client, member, workflow):
    client.force_login(member)
    page = client.get(f"/workflows/{workflow.name}/edit/").content.decode()
    assert menu_options(page, "Trigger type") == [(n, t.label) for n, t in REGISTRY.items()]


@pytest.mark.parametrize("type_", list(REGISTRY))
def test_the_editor_adds_every_type_with_its_defaults(client, member, workflow, type_):
    client.force_login(member)
    response = client.post(f"/workflows/{workflow.name}/edit/triggers/add/", {"type": type_},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    trigger = draft_of(workflow).triggers.get()
    assert trigger.type == type_ and trigger.settings == REGISTRY[type_].default_settings()
    assert trigger.access == REGISTRY[type_].default_access
    card = response.content.decode()
    assert f"<h3>{REGISTRY[type_].label}</h3>" in card


def test_each_card_shows_its_starter(client, member, workflow, environments):
    from workflows import services

    draft = draft_of(workflow)
    services.trigger_add(version=draft, type="http")
    services.trigger_add(version=draft, type="schedule")
    services.trigger_add(version=draft, type="manual")
    client.force_login(member)
    page = client.get(f"/workflows/{workflow.name}/edit/").content.decode()
    assert "/hooks/dev/orders" in page and "Copy curl" in page
    assert page.count("<time datetime=") == 5
    assert REGISTRY["manual"].description.replace("<", "&lt;").replace(">", "&gt;") in page


def test_a_schedule_without_next_time_says_so(workflow):
    from workflows import services
    from workflows.editor import trigger_starter

    trigger, _ = services.trigger_add(version=draft_of(workflow), type="schedule")
    trigger.settings = {"at": "2001-01-01T00:00:00+00:00"}
    starter = trigger_starter(workflow, trigger)
    assert starter.template.endswith("_schedule.html") and starter.info["next"] == []


def test_suggestions_include_what_each_type_hands_to_the_run(workflow):
    from workflows import services
    from workflows.editor import trigger_suggestions

    draft = draft_of(workflow)
    for type_ in REGISTRY:
        services.trigger_add(version=draft, type=type_)
    found = trigger_suggestions(draft)
    for trigger_type in REGISTRY.values():
        assert set(trigger_type.input_fields) <= set(found)
    assert "trigger.headers" in found and "trigger.body.record" in found


def test_next_fire_times_are_in_the_schedule_zone():
    from zoneinfo import ZoneInfo

    from workflows.triggers.schedule import _next_times

    times = _next_times({"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    assert len(times) == 5 and all(isinstance(t, datetime) for t in times)
    assert {t.astimezone(ZoneInfo("Europe/Paris")).hour for t in times} == {9}


def test_seconds_come_first_when_asked_for():
    from datetime import UTC, datetime

    from workflows.schedules import next_fire_times

    after = datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)
    times = next_fire_times({"cron": "*/10 * * * * *", "seconds": True}, count=3, after=after)
    assert [t.second for t in times] == [10, 20, 30] and times[0].minute == 0
