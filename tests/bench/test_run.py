"""`make bench`'s report: each figure beside its ratio to the baseline measured in the same run,
and the machine's speed at plain Python at the run's start and end."""

from __future__ import annotations

from bench import run


def test_each_figure_gets_its_ratio_to_the_baseline_of_the_same_run():
    results = run.with_ratios({
        "webhook_sync_p50_ms": 12.0, "baseline_django_view_p50_ms": 8.0,
        "webhook_sync_p95_ms": 20.0, "baseline_django_view_p95_ms": 16.0,
        "webhook_runs_per_s": 75.0, "baseline_django_view_per_s": 150.0,
    })

    assert results["ratio_sync_p50_to_view_p50"] == 1.5
    assert results["ratio_sync_p95_to_view_p95"] == 1.25
    assert results["ratio_runs_to_view_calls"] == 0.5


def test_a_ratio_is_left_out_when_its_figure_or_baseline_was_not_measured():
    results = run.with_ratios({
        "webhook.py:error": ["RuntimeError: Daphne did not answer"],
        "baseline_django_view_p50_ms": 8.0,
        "webhook_runs_per_s": 75.0, "baseline_django_view_per_s": 0,
    })

    assert not any(key.startswith("ratio_") for key in results)


def test_the_calibration_really_runs_the_loop_it_times():
    namespace: dict = {}
    exec(run.CALIBRATION, namespace)  # noqa: S102 - the module's own constant loop

    assert namespace["x"] == sum(range(run.CALIBRATION_ITERATIONS))
    speed = run.python_loop_ns()
    assert 0 < speed["min"] <= speed["median"]


def test_the_table_marks_each_target():
    table = run.markdown({"webhook_sync_p50_ms": 12.0, "ratio_sync_p50_to_view_p50": 1.5})

    assert "| `webhook_sync_p50_ms` | 12.0 | ≤ 10 |" in table
    assert "| `ratio_sync_p50_to_view_p50` | 1.5 |  |" in table
