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
