"""Execution records: step events are append-only, log lines are numbered once per run."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from runner.models import AppendOnlyError, LogLine, Run, StepEvent
from runner.states import InvalidTransition, check_run_transition, check_step_transition
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    workflow, version = publish_workflow("records", [
        {"name": "hello", "type": "log", "inputs": {"message": "hi"}},
    ])
    return Run.objects.create(workflow=workflow, version=version, trigger_type="manual")


def event(run, status="running"):
    return StepEvent.objects.create(
        run=run, step_key="hello", action_name="hello", action_type="log", status=status
    )


def test_step_events_cannot_be_updated_or_deleted(run):
    first = event(run)
    first.status = "completed"
    with pytest.raises(AppendOnlyError):
        first.save()
    with pytest.raises(AppendOnlyError):
        first.delete()
    with pytest.raises(AppendOnlyError):
        StepEvent.objects.filter(run=run).update(status="failed")
    with pytest.raises(AppendOnlyError):
        StepEvent.objects.filter(run=run).delete()
    assert StepEvent.objects.get(id=first.id).status == "running"


def test_deleting_a_run_removes_its_events_and_logs(run):
    event(run)
    LogLine.objects.create(run=run, seq=1, message="x")
    run.delete()
    assert not StepEvent.objects.exists() and not LogLine.objects.exists()


def test_log_sequence_numbers_are_unique_and_positive(run):
    LogLine.objects.create(run=run, seq=1, message="one")
    with pytest.raises(IntegrityError), transaction.atomic():
        LogLine.objects.create(run=run, seq=1, message="again")
    with pytest.raises(IntegrityError), transaction.atomic():
        LogLine.objects.create(run=run, seq=0, message="zero")


def test_a_finished_run_needs_a_finish_date(run):
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(id=run.id).update(status="completed")


def test_unknown_run_status_is_refused_by_the_database(run):
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(id=run.id).update(status="exploded")


@pytest.mark.parametrize(("old", "new"), [("completed", "running"), ("cancelled", "completed"),
                                          ("failed", "queued")])
def test_finished_runs_never_move_again(old, new):
    with pytest.raises(InvalidTransition):
        check_run_transition(old, new)


def test_a_completed_step_can_only_be_reverted():
    check_step_transition("completed", "reverted")
    with pytest.raises(InvalidTransition):
        check_step_transition("completed", "running")
