"""Retention prunes finished runs in batches and never a run that is still going."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from runner.models import LogLine, Run, StepEvent
from runner.retention import prune_runs
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow():
    return publish_workflow("kept", [{"name": "a", "type": "log", "inputs": {"message": "x"}}])[0]


def make(workflow, status, days_ago):
    run = Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                             trigger_type="manual", status=status,
                             finished_at=timezone.now() if status in {"completed", "failed"}
                             else None)
    Run.objects.filter(id=run.id).update(created_at=timezone.now() - timedelta(days=days_ago))
    StepEvent.objects.create(run=run, step_key="a", action_name="a", action_type="log",
                             status="running")
    LogLine.objects.bulk_create(LogLine(run=run, seq=i, message="x") for i in range(1, 51))
    return run


def test_old_finished_runs_go_with_their_logs_waiting_ones_stay(workflow):
    old = make(workflow, "completed", 40)
    waiting = make(workflow, "waiting", 40)
    recent = make(workflow, "failed", 1)
    assert prune_runs(older_than_days=30, batch_size=1) == 1
    assert set(Run.objects.values_list("id", flat=True)) == {waiting.id, recent.id}
    assert not LogLine.objects.filter(run_id=old.id).exists()
    assert not StepEvent.objects.filter(run_id=old.id).exists()


def test_keep_the_newest_per_workflow(workflow):
    runs = [make(workflow, "completed", days) for days in (5, 4, 3, 2, 1)]
    make(workflow, "running", 10)
    call_command("prune_runs", "--keep", "2")
    kept = set(Run.objects.filter(status="completed").values_list("id", flat=True))
    assert kept == {runs[-1].id, runs[-2].id}
    assert Run.objects.filter(status="running").count() == 1
