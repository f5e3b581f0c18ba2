"""Writes on drafts: every service, and refused edits that write nothing."""

from __future__ import annotations

import pytest

from workflows import services
from workflows.models import Action, PublishedVersionError, Trigger, Workflow, WorkflowVersion
from workflows.tree_services import TreeError

pytestmark = pytest.mark.django_db


def tree(version: WorkflowVersion) -> list:
    """(name, parent name, slot, position) of every block, sorted: a full picture of the tree."""
    return sorted((a.name, a.parent.name if a.parent else "", a.slot, a.position)
                  for a in version.actions.select_related("parent"))


@pytest.fixture
def draft(admin_user) -> WorkflowVersion:
    workflow, errors = services.workflow_create(name="orders", user=admin_user)
    assert errors == {}
    return workflow.versions.get()


def add(draft, type_, parent=None, slot="", position=None) -> Action:
    return services.action_add(version=draft, type=type_, parent=parent, slot=slot,
                               position=position)


@pytest.fixture
def built(draft):
    """if_1 { then: [for_each_1 { body: [log_1] }], else: [log_2] }, then log_3 at the top."""
    branch = add(draft, "if")
    loop = add(draft, "for_each", branch, "then")
    add(draft, "log", loop, "body")
    add(draft, "log", branch, "else")
    add(draft, "log")
    return draft


def by_name(version, name) -> Action:
    return version.actions.get(name=name)


def test_workflow_create_makes_an_empty_draft_v1(draft):
    assert draft.number == 1 and draft.status == "draft" and draft.actions.count() == 0


def test_workflow_create_refuses_bad_and_taken_names(draft):
    workflow, errors = services.workflow_create(name="Bad Name")
    assert workflow is None and "name" in errors
    workflow, errors = services.workflow_create(name="orders")
    assert workflow is None and "is not available" in errors["name"][0]
    assert Workflow.objects.count() == 1


def test_action_add_names_blocks_and_places_them(built):
    assert tree(built) == [
        ("for_each_1", "if_1", "then", 0),
        ("if_1", "", "", 0),
        ("log_1", "for_each_1", "body", 0),
        ("log_2", "if_1", "else", 0),
        ("log_3", "", "", 1),
    ]


def test_action_add_at_a_position_shifts_the_others(built):
    add(built, "wait", position=0)
    assert [(n, p) for n, parent, _, p in tree(built) if not parent] == [
        ("if_1", 1), ("log_3", 2), ("wait_1", 0)]


def test_action_add_refuses_unknown_slot_and_type(built):
    before = tree(built)
    with pytest.raises(TreeError, match="no slot 'body'"):
        add(built, "log", by_name(built, "if_1"), "body")
    with pytest.raises(TreeError, match="unknown action type"):
        add(built, "nope")
    with pytest.raises(TreeError, match="top-level"):
        add(built, "log", None, "then")
    assert tree(built) == before


def test_action_update_saves_valid_inputs(built):
    action = by_name(built, "log_2")
    errors = services.action_update(action=action, inputs={"message": "{{ trigger.body.x }}"},
                                    name="say_no", retry={"max_attempts": "3"},
                                    timeout_seconds=5, continue_on_error=True)
    assert errors == {}
    action.refresh_from_db()
    assert action.name == "say_no" and action.inputs == {"message": "{{ trigger.body.x }}"}
    assert action.retry == {"max_attempts": 3} and action.timeout_seconds == 5
    assert action.continue_on_error


@pytest.mark.parametrize(("type_", "inputs", "field"), [
    ("http_request", {"url": "not a url"}, "inputs.url"),
    ("http_request", {"url": "https://x.test", "timeout": 900}, "inputs.timeout"),
    ("log", {"message": "{{ oops( }}"}, "inputs.message"),
    ("log", {}, "inputs.message"),
    ("for_each", {"items": "not a list"}, "inputs.items"),
])
def test_action_update_refuses_invalid_inputs_and_writes_nothing(draft, type_, inputs, field):
    action = add(draft, type_)
    errors = services.action_update(action=action, inputs=inputs, name="renamed")
    assert field in errors
    action.refresh_from_db()
    assert action.inputs == {} and action.name == f"{type_}_1"


def test_action_update_refuses_a_taken_name_and_bad_settings(built):
    action = by_name(built, "log_1")
    errors = services.action_update(action=action, inputs={"message": "hi"}, name="log_2",
                                    retry={"max_attempts": "0"}, timeout_seconds=-1)
    assert set(errors) == {"name", "retry.max_attempts", "timeout_seconds"}
    action.refresh_from_db()
    assert action.inputs == {} and action.retry == {}


def test_action_move_into_another_slot_renumbers_both(built):
    services.action_move(action=by_name(built, "log_3"), parent=by_name(built, "if_1"),
                         slot="else", position=0)
    assert tree(built) == [
        ("for_each_1", "if_1", "then", 0), ("if_1", "", "", 0),
        ("log_1", "for_each_1", "body", 0), ("log_2", "if_1", "else", 1),
        ("log_3", "if_1", "else", 0),
    ]


def test_action_move_within_a_slot(built):
    services.action_move(action=by_name(built, "log_3"), parent=None, slot="", position=0)
    assert [(n, p) for n, parent, _, p in tree(built) if not parent] == [("if_1", 1),
                                                                         ("log_3", 0)]


def test_action_move_out_to_the_top_level(built):
    services.action_move(action=by_name(built, "for_each_1"), parent=None, slot="",
                         position=5)
    assert ("for_each_1", "", "", 2) in tree(built)
    assert ("log_1", "for_each_1", "body", 0) in tree(built)


@pytest.mark.parametrize(("parent", "slot", "message"), [
    ("for_each_1", "body", "inside itself"),
    ("log_1", "then", "no slot"),
    ("if_1", "body", "no slot"),
])
def test_invalid_moves_write_nothing(built, parent, slot, message):
    before = tree(built)
    target = by_name(built, "if_1") if parent == "if_1" else by_name(built, parent)
    moving = by_name(built, "if_1") if parent != "if_1" else by_name(built, "log_3")
    with pytest.raises(TreeError, match=message):
        services.action_move(action=moving, parent=target, slot=slot, position=0)
    assert tree(built) == before


def test_action_delete_removes_the_subtree_and_closes_the_gap(built):
    add(built, "wait", position=1)
    services.action_delete(action=by_name(built, "if_1"))
    assert tree(built) == [("log_3", "", "", 1), ("wait_1", "", "", 0)]


def test_action_duplicate_copies_the_subtree_after_the_original(built):
    clone = services.action_duplicate(action=by_name(built, "for_each_1"))
    assert clone.name == "for_each_1_copy_1" and clone.position == 1 and clone.slot == "then"
    assert by_name(built, "log_1_copy_1").parent == clone


def test_published_versions_refuse_every_edit(built, admin_user):
    services.action_update(action=by_name(built, "log_1"), inputs={"message": "a"})
    services.action_update(action=by_name(built, "log_2"), inputs={"message": "b"})
    services.action_update(action=by_name(built, "log_3"), inputs={"message": "c"})
    services.action_update(action=by_name(built, "if_1"), inputs={"condition": "{{ true }}"})
    services.action_update(action=by_name(built, "for_each_1"), inputs={"items": [1, 2]})
    version = services.version_publish(version=built, user=admin_user, note="first")
    assert version.is_published and version.note == "first"
    with pytest.raises(PublishedVersionError):
        add(version, "log")
    with pytest.raises(PublishedVersionError):
        services.action_delete(action=by_name(version, "log_3"))


def test_publish_refuses_an_incomplete_tree(built):
    with pytest.raises(services.EditRefused) as refused:
        services.version_publish(version=built, note="x")
    assert any("message" in m for m in refused.value.messages)
    built.refresh_from_db()
    assert built.status == "draft"


def complete(draft):
    for action in draft.actions.all():
        inputs = {"if": {"condition": "{{ true }}"}, "for_each": {"items": [1]},
                  "log": {"message": "m"}}[action.type]
        assert services.action_update(action=action, inputs=inputs) == {}


def test_new_draft_copies_the_latest_version(built, admin_user):
    complete(built)
    trigger, errors = services.trigger_add(version=built, type="manual")
    assert errors == {}
    services.version_publish(version=built, user=admin_user)
    draft = services.draft_get_or_create(workflow=built.workflow, user=admin_user)
    assert draft.number == 2 and tree(draft) == tree(built)
    assert list(draft.triggers.values_list("name", flat=True)) == ["manual_1"]
    assert services.draft_get_or_create(workflow=built.workflow) == draft


def test_restore_and_diff(built, admin_user):
    complete(built)
    v1 = services.version_publish(version=built, user=admin_user, note="one")
    draft = services.draft_get_or_create(workflow=v1.workflow)
    services.action_move(action=by_name(draft, "log_3"), parent=by_name(draft, "if_1"),
                         slot="else", position=1)
    services.action_update(action=by_name(draft, "log_2"), inputs={"message": "changed"})
    add(draft, "wait")
    services.action_delete(action=by_name(draft, "log_1"))
    diff = services.version_diff(a=v1, b=draft)
    assert diff["added"] == ["wait_1"] and diff["removed"] == ["log_1"]
    assert diff["moved"]["log_3"] == {"from": "top level, position 2",
                                      "to": "if_1.else, position 2"}
    assert diff["details"]["log_2"] == [{"field": "inputs.message", "before": "m",
                                         "after": "changed"}]
    restored = services.version_restore(workflow=v1.workflow, number=1, user=admin_user)
    assert restored.id == draft.id and tree(restored) == tree(v1)
    assert services.version_diff(a=v1, b=restored)["moved"] == {}


def test_workflow_duplicate_copies_latest_version_and_perimeters(built, ops_group):
    built.workflow.perimeters.add(ops_group)
    copy, errors = services.workflow_duplicate(workflow=built.workflow, name="orders-copy")
    assert errors == {} and list(copy.perimeters.all()) == [ops_group]
    assert tree(copy.versions.get()) == tree(built)
    again, errors = services.workflow_duplicate(workflow=built.workflow, name="orders-copy")
    assert again is None and "name" in errors


def test_workflow_delete_refused_when_deployed(built, environments, admin_user):
    from environments.models import Deployment

    complete(built)
    version = services.version_publish(version=built, user=admin_user)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    with pytest.raises(services.EditRefused):
        services.workflow_delete(workflow=version.workflow)
    Deployment.objects.all().delete()
    services.workflow_delete(workflow=version.workflow)
    assert not Workflow.objects.exists()


def test_set_active_and_settings(draft, ops_group):
    workflow = services.workflow_set_active(workflow=draft.workflow, active=False)
    assert workflow.active is False
    errors = services.workflow_update_settings(workflow=workflow, name="Bad!", description="d",
                                               tags=["a"], perimeters=[ops_group])
    assert "name" in errors
    workflow.refresh_from_db()
    assert workflow.name == "orders" and workflow.description == ""
    assert services.workflow_update_settings(
        workflow=workflow, name="orders-2", description="d", tags=["a", "a", "b"],
        perimeters=[ops_group], concurrency_limit=2) == {}
    workflow.refresh_from_db()
    assert (workflow.name, workflow.tags, workflow.concurrency_limit) == ("orders-2",
                                                                          ["a", "b"], 2)
    assert list(workflow.perimeters.all()) == [ops_group]


def test_triggers_add_update_delete(draft, ops_group):
    draft.workflow.perimeters.add(ops_group)
    http, errors = services.trigger_add(version=draft, type="http")
    assert errors == {} and http.access == "group" and http.access_group == ops_group
    schedule, _ = services.trigger_add(version=draft, type="schedule")
    errors = services.trigger_update(trigger=schedule, name="nightly",
                                     settings={"cron": "not cron"}, access="public")
    assert "settings.cron" in errors
    schedule.refresh_from_db()
    assert schedule.name == "schedule_1" and schedule.settings["cron"] == "0 * * * *"
    assert services.trigger_update(trigger=schedule, name="nightly",
                                   settings={"cron": "0 2 * * *", "timezone": "Europe/Paris"},
                                   access="public") == {}
    errors = services.trigger_update(trigger=http, name="nightly", settings={},
                                     access="group", access_group=None)
    assert set(errors) == {"name", "access_group"}
    services.trigger_delete(trigger=http)
    assert list(Trigger.objects.values_list("name", flat=True)) == ["nightly"]
    _, errors = services.trigger_add(version=draft, type="bogus")
    assert "type" in errors


@pytest.mark.parametrize("name", ["new", "import"])
def test_names_of_list_pages_are_reserved(draft, name):
    workflow, errors = services.workflow_create(name=name)
    assert workflow is None and "reserved" in errors["name"][0]
    errors = services.workflow_update_settings(workflow=draft.workflow, name=name,
                                               description="", tags=[], perimeters=[])
    assert "reserved" in errors["name"][0]
    draft.workflow.refresh_from_db()
    assert draft.workflow.name == "orders"
    assert not Workflow.objects.filter(name=name).exists()


def test_diff_as_a_tree_marks_blocks_where_they_are(built, admin_user):
    complete(built)
    v1 = services.version_publish(version=built, user=admin_user, note="one")
    draft = services.draft_get_or_create(workflow=v1.workflow)
    add(draft, "wait", position=0)  # shifts everything at the top level: no block "moved"
    services.action_update(action=by_name(draft, "log_2"), inputs={"message": "changed"})
    services.action_delete(action=by_name(draft, "log_1"))
    services.action_move(action=by_name(draft, "log_3"), parent=by_name(draft, "if_1"),
                         slot="else", position=0)
    diff = services.version_diff(a=v1, b=draft)
    assert set(diff["moved"]) == {"log_3"}

    def flat(nodes, depth=0):
        for n in nodes:
            marks = [m for m in ("added", "removed") if n[m]] + (
                ["changed"] if n["changes"] else []) + (["moved"] if n["moved_from"] else [])
            yield depth, n["name"], marks
            for _slot, children in n["slots"]:
                yield from flat(children, depth + 1)

    assert list(flat(diff["tree"])) == [
        (0, "wait_1", ["added"]),
        (0, "if_1", []),
        (1, "for_each_1", []),
        (2, "log_1", ["removed"]),  # shown where it was
        (1, "log_3", ["moved"]),
        (1, "log_2", ["changed"]),
    ]
    log_2 = diff["tree"][1]["slots"][1][1][1]
    assert log_2["changes"] == [{"field": "inputs.message", "before": "m", "after": "changed"}]
