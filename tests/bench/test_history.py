"""The history part of `make bench`: the stored runs it makes in the database itself (finished,
inside the retention window, spread over workflows, each with its children), and how it turns
the two phases into slowdowns."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from owlgrid_site.settings import BASE_DIR

sys.path.insert(0, str(BASE_DIR / "bench"))
import history  # noqa: E402 - the parts import their siblings by bare name, as make bench runs them
import history_data  # noqa: E402
import webhook  # noqa: E402

FINISHED = {"completed", "failed", "cancelled"}


def template(workflow_name: str, log_lines: int):
    """A completed run of a benchmarked workflow as the engine records it: its own events,
    each step's start and end, and its log lines."""
    from environments.models import Deployment
    from runner.models import LogLine, Run, StepEvent

    deployment = Deployment.objects.get(workflow__name=workflow_name)
    now = timezone.now()
    run = Run.objects.create(
        workflow=deployment.workflow, version=deployment.version,
        environment=deployment.environment, trigger=deployment.version.triggers.get(),
        trigger_type="http", trigger_input={"body": {"n": 1}}, status="completed",
        started_at=now, finished_at=now, plan={"steps": ["one", "two", "three"]})
    events = [("", "run", "not_started"), ("", "run", "running")]
    for step in ("one", "two", "three"):
        events += [(step, "log", "running"), (step, "log", "completed")]
    events.append(("", "run", "completed"))
    StepEvent.objects.bulk_create(StepEvent(run=run, step_key=key, action_name=key,
                                            action_type=kind, status=status)
                                  for key, kind, status in events)
    LogLine.objects.bulk_create(LogLine(run=run, seq=seq, step_key="two", message=f"n={seq}")
                                for seq in range(1, log_lines + 1))
    return run


@pytest.fixture
def templates(db):
    webhook.prepare()
    return [template("bench-async", log_lines=2), template("bench-sync", log_lines=1)]


def copies():
    from runner.models import Run

    return Run.objects.filter(job_id__startswith=history_data.MARKER)


def test_the_history_is_finished_runs_inside_the_retention_window(templates, settings):
    split = history_data.shares(templates, 60, own_share=10, other_workflows=2)

    made = history_data.add_history(split)

    now = timezone.now()
    assert made == copies().count() == 60
    assert {run.status for run in copies()} <= FINISHED
    for run in copies():
        assert now - timedelta(days=history_data.HISTORY_DAYS, seconds=1) <= run.created_at
        assert run.created_at < run.started_at < run.finished_at <= now + timedelta(seconds=1)
    assert history_data.HISTORY_DAYS < settings.OWLGRID_RETENTION_DAYS


def test_the_history_is_spread_over_the_benchmarked_workflows_and_others(templates):
    history_data.add_history(history_data.shares(templates, 60, own_share=10,
                                                 other_workflows=2))

    per_workflow = {}
    for run in copies().select_related("workflow"):
        per_workflow[run.workflow.name] = per_workflow.get(run.workflow.name, 0) + 1
    assert per_workflow == {"bench-async": 10, "bench-sync": 10,
                            "bench-history-0": 20, "bench-history-1": 20}
    created = sorted(copies().values_list("created_at", "workflow__name"))
    assert len({name for _, name in created[:6]}) > 1  # interleaved in time, not in blocks


def test_each_stored_run_has_its_steps_final_events_and_its_log_lines(templates):
    from runner.models import LogLine, StepEvent

    history_data.add_history(history_data.shares(templates, 60, own_share=10,
                                                 other_workflows=2))

    sync_copies = copies().filter(workflow__name="bench-sync")
    for run in copies():
        events = StepEvent.objects.filter(run=run)
        assert sorted(events.values_list("step_key", "status")) == [
            ("one", "completed"), ("three", "completed"), ("two", "completed")]
        assert {event.created_at for event in events} == {run.finished_at}
        lines = 1 if run in sync_copies else 2
        assert list(LogLine.objects.filter(run=run).values_list("seq", flat=True)) == list(
            range(1, lines + 1))


def test_too_small_a_history_for_the_other_workflows_is_refused(templates):
    with pytest.raises(ValueError, match="other workflows"):
        history_data.shares(templates, 21, own_share=10, other_workflows=2)


def test_each_state_is_the_mean_of_its_phases():
    phases = [{"webhook_runs_per_s": 100.0, "webhook_sync_p50_ms": 8.0,
               "baseline_django_view_p50_ms": 4.0},
              {"webhook_runs_per_s": 80.0, "webhook_sync_p50_ms": 12.0,
               "baseline_django_view_p50_ms": 6.0}]

    assert history.mean_of(phases) == {"webhook_runs_per_s": 90.0, "webhook_sync_p50_ms": 10.0,
                                       "baseline_django_view_p50_ms": 5.0}


def test_slowdowns_are_worse_above_one_and_come_with_their_controls():
    empty = {"webhook_sync_p50_ms": 8.0, "baseline_django_view_p50_ms": 4.0,
             "webhook_runs_per_s": 120.0}
    full = {"webhook_sync_p50_ms": 10.0, "baseline_django_view_p50_ms": 5.0,
            "webhook_runs_per_s": 100.0}

    figures = history.slowdowns(empty, full)

    assert figures == {"history_slowdown_sync_p50": 1.25, "history_slowdown_runs_per_s": 1.2,
                       "history_slowdown_view_p50": 1.25,
                       "history_slowdown_sync_p50_per_view": 1.0}
