"""Renaming a block rewrites `steps.<old>` references in every expression of the tree."""

from __future__ import annotations

import pytest

from workflows import services
from workflows.expressions import rename_step_references
from workflows.models import WorkflowVersion


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ steps.fetch.output }}", "{{ steps.load.output }}"),
    ("{{ steps['fetch'].output }}", "{{ steps['load'].output }}"),
    ('{{ steps["fetch"].output.body }}', '{{ steps["load"].output.body }}'),
    ("{{ steps [ 'fetch' ] }}", "{{ steps['load'] }}"),
    ("a {{ steps.fetch.output }} b {{ steps.fetch }}",
     "a {{ steps.load.output }} b {{ steps.load }}"),
    ("{% if steps.fetch.output.ok %}yes{% endif %}", "{% if steps.load.output.ok %}yes{% endif %}"),
])
def test_rename_rewrites_every_spelling_of_a_reference(source, expected):
    assert rename_step_references(source, "fetch", "load") == expected


@pytest.mark.parametrize("source", [
    "{{ steps.fetch_all.output }}",       # a longer name with the same prefix
    "{{ steps['fetch_all'] }}",
    "{{ steps.fetcher }}",
    "{{ mysteps.fetch }}",                # another variable ending in "steps"
    "{{ trigger.steps.fetch }}",          # an attribute named steps
    "steps.fetch outside an expression",  # plain text is not an expression
    "{{ steps['fetch\"] }}",              # mismatched quotes
])
def test_rename_leaves_lookalikes_alone(source):
    assert rename_step_references(source, "fetch", "load") == source


@pytest.fixture
def draft(admin_user) -> WorkflowVersion:
    workflow, _ = services.workflow_create(name="orders", user=admin_user)
    return workflow.versions.get()


@pytest.mark.django_db
def test_renaming_a_block_rewrites_later_expressions_in_the_whole_tree(draft):
    fetch = services.action_add(version=draft, type="log")
    branch = services.action_add(version=draft, type="if")
    nested = services.action_add(version=draft, type="log", parent=branch, slot="then")
    other = services.action_add(version=draft, type="log")
    assert services.action_update(action=fetch, inputs={"message": "hi"}) == {}
    assert services.action_update(
        action=branch, inputs={"condition": "{{ steps.log_1.output and steps.log_10 }}"}) == {}
    assert services.action_update(
        action=nested, inputs={"message": "got {{ steps['log_1'].output }}"}) == {}
    assert services.action_update(action=other, inputs={"message": "plain steps.log_1"}) == {}

    assert services.action_update(action=fetch, inputs={"message": "hi"}, name="fetch") == {}

    branch.refresh_from_db()
    nested.refresh_from_db()
    other.refresh_from_db()
    assert branch.inputs == {"condition": "{{ steps.fetch.output and steps.log_10 }}"}
    assert nested.inputs == {"message": "got {{ steps['fetch'].output }}"}
    assert other.inputs == {"message": "plain steps.log_1"}
    assert services.version_problems(draft) == []


@pytest.mark.django_db
def test_a_refused_rename_rewrites_nothing(draft):
    first = services.action_add(version=draft, type="log")
    second = services.action_add(version=draft, type="log")
    services.action_update(action=second, inputs={"message": "{{ steps.log_1.output }}"})
    errors = services.action_update(action=first, inputs={"message": ""}, name="Bad Name")
    assert "name" in errors
    second.refresh_from_db()
    assert second.inputs == {"message": "{{ steps.log_1.output }}"}


@pytest.mark.django_db
def test_the_diff_shows_a_rename_not_a_removal_and_an_addition(draft, admin_user):
    branch = services.action_add(version=draft, type="if")
    inner = services.action_add(version=draft, type="log", parent=branch, slot="then")
    later = services.action_add(version=draft, type="log")
    services.action_update(action=branch, inputs={"condition": "{{ true }}"})
    services.action_update(action=inner, inputs={"message": "in"})
    services.action_update(action=later, inputs={"message": "{{ steps.log_1.output }}"})
    v1 = services.version_publish(version=draft, user=admin_user)
    v2 = services.draft_get_or_create(workflow=v1.workflow)
    services.action_update(action=v2.actions.get(name="if_1"), inputs={"condition": "{{ 1 }}"},
                           name="check")
    services.action_update(action=v2.actions.get(name="log_1"), inputs={"message": "in"},
                           name="inside")
    diff = services.version_diff(a=v1, b=v2)
    assert diff["renamed"] == {"check": "if_1", "inside": "log_1"}
    assert diff["added"] == [] and diff["removed"] == [] and diff["moved"] == {}
    assert list(diff["changed"]) == ["check"]  # log_2's rewritten reference is no change
    assert diff["details"]["check"] == [{"field": "inputs.condition", "before": "{{ true }}",
                                         "after": "{{ 1 }}"}]
    assert [(n["name"], n["renamed_from"]) for n in diff["tree"]] == [("check", "if_1"),
                                                                     ("log_2", None)]
