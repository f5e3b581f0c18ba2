"""Database constraints and immutability of the definition models."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from environments.models import Deployment, Environment, Variable
from workflows.models import Action, PublishedVersionError, Trigger, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow():
    return Workflow.objects.create(name="orders")


@pytest.fixture
def draft(workflow):
    return WorkflowVersion.objects.create(workflow=workflow, number=1)


def create_action(version, name, position, parent=None, slot=""):
    return Action.objects.create(
        version=version, name=name, type="log", position=position, parent=parent, slot=slot,
        inputs={"message": "x"},
    )


def test_one_draft_per_workflow(workflow, draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowVersion.objects.create(workflow=workflow, number=2)


def test_version_numbers_are_unique(workflow, draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowVersion.objects.create(
            workflow=workflow, number=1, status="published", published_at=timezone.now()
        )


def test_published_version_is_immutable(draft):
    action = create_action(draft, "hello", 0)
    WorkflowVersion.objects.filter(id=draft.id).update(
        status="published", published_at=timezone.now()
    )
    draft.refresh_from_db()
    draft.note = "changed"
    with pytest.raises(PublishedVersionError):
        draft.save()
    with pytest.raises(PublishedVersionError):
        draft.delete()
    action.refresh_from_db()
    action.inputs = {"message": "changed"}
    with pytest.raises(PublishedVersionError):
        action.save()
    with pytest.raises(PublishedVersionError):
        Trigger.objects.create(version=draft, name="hook", type="http", access="public")


def test_a_published_version_needs_a_date(workflow):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowVersion.objects.create(workflow=workflow, number=1, status="published")


def test_action_names_are_unique_per_version(draft):
    create_action(draft, "hello", 0)
    with pytest.raises(IntegrityError), transaction.atomic():
        create_action(draft, "hello", 1)


def test_two_actions_cannot_share_a_place_in_the_tree(draft):
    parent = Action.objects.create(version=draft, name="check", type="if", position=0,
                                   inputs={"condition": True})
    create_action(draft, "a", 0, parent, "then")
    with pytest.raises(IntegrityError), transaction.atomic():
        create_action(draft, "b", 0, parent, "then")
    create_action(draft, "c", 0, parent, "else")
    with pytest.raises(IntegrityError), transaction.atomic():
        create_action(draft, "root_twin", 0)


def test_children_need_a_slot_and_roots_have_none(draft):
    parent = create_action(draft, "p", 0)
    with pytest.raises(IntegrityError), transaction.atomic():
        create_action(draft, "child", 0, parent, "")
    with pytest.raises(IntegrityError), transaction.atomic():
        create_action(draft, "root", 1, None, "then")


def test_group_access_trigger_names_its_group(draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        Trigger.objects.create(version=draft, name="hook", type="http", access="group")


def test_concurrency_limit_must_be_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        Workflow.objects.create(name="zero", concurrency_limit=0)


def test_one_deployment_per_workflow_and_environment(workflow, draft):
    env = Environment.objects.create(name="dev", position=1)
    WorkflowVersion.objects.filter(id=draft.id).update(
        status="published", published_at=timezone.now()
    )
    Deployment.objects.create(workflow=workflow, environment=env, version=draft)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(workflow=workflow, environment=env, version=draft)


def test_secret_variables_hold_no_plaintext():
    env = Environment.objects.create(name="dev", position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Variable.objects.create(environment=env, name="TOKEN", is_secret=True, value="plain")
    with pytest.raises(IntegrityError), transaction.atomic():
        Variable.objects.create(environment=env, name="A", encrypted_value="x")


def test_environment_positions_are_unique():
    Environment.objects.create(name="dev", position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Environment.objects.create(name="prod", position=1)


def test_deleting_a_workflow_removes_its_versions_runs_and_deployments(workflow, draft):
    from runner.models import Run

    WorkflowVersion.objects.filter(id=draft.id).update(
        status="published", published_at=timezone.now()
    )
    env = Environment.objects.create(name="dev", position=1)
    Deployment.objects.create(workflow=workflow, environment=env, version=draft)
    Run.objects.create(workflow=workflow, version=draft, trigger_type="manual")
    workflow.delete()
    assert not WorkflowVersion.objects.exists() and not Run.objects.exists()
