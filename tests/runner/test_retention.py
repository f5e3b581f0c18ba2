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


FINISHED = {"completed", "failed", "cancelled"}


def make(workflow, status, days_ago):
    run = Run.objects.create(workflow=workflow, version=workflow.versions.get(),
                             trigger_type="manual", status=status,
                             finished_at=timezone.now() if status in FINISHED else None)
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


def test_batches_and_log_chunks_delete_everything_they_should(workflow, monkeypatch):
    from runner import retention

    monkeypatch.setattr(retention, "LOG_CHUNK", 7)
    old = [make(workflow, status, 40) for status in ("completed", "failed", "cancelled") * 3]
    going = [make(workflow, status, 400) for status in ("queued", "running", "waiting")]
    assert prune_runs(older_than_days=30, keep_per_workflow=None, batch_size=2) == len(old)
    assert set(Run.objects.values_list("id", flat=True)) == {run.id for run in going}
    assert LogLine.objects.count() == 50 * len(going)
    assert StepEvent.objects.count() == len(going)


def test_runs_that_pointed_at_a_pruned_run_stay(workflow):
    old = make(workflow, "failed", 40)
    retry = make(workflow, "completed", 1)
    child = make(workflow, "waiting", 1)
    Run.objects.filter(id=retry.id).update(retry_of=old)
    Run.objects.filter(id=child.id).update(parent_run=old)
    assert prune_runs(older_than_days=30) == 1
    assert Run.objects.get(id=retry.id).retry_of_id is None
    assert Run.objects.get(id=child.id).parent_run_id is None


def test_limits_default_to_the_settings(workflow, settings):
    settings.OWLGRID_RETENTION_DAYS = 7
    settings.OWLGRID_RETENTION_PER_WORKFLOW = 1
    newest, older, old = (make(workflow, "completed", days) for days in (1, 2, 10))
    assert prune_runs() == 2
    assert list(Run.objects.values_list("id", flat=True)) == [newest.id]
    assert older.id != old.id


def test_keep_zero_and_bad_arguments(workflow):
    from django.core.management.base import CommandError

    make(workflow, "completed", 1)
    with pytest.raises(CommandError):
        call_command("prune_runs", "--keep", "-1")
    with pytest.raises(ValueError, match="batch_size"):
        prune_runs(older_than_days=1, batch_size=0)
    assert prune_runs(keep_per_workflow=0) == 1


@pytest.mark.django_db(transaction=True)
def test_the_command_reclaims_space_with_vacuum(workflow):
    from io import StringIO

    make(workflow, "completed", 40)
    out = StringIO()
    call_command("prune_runs", "--days", "30", "--keep", "100", "--vacuum", stdout=out)
    assert out.getvalue().strip() == "pruned 1 run(s)"
    assert not LogLine.objects.exists()
