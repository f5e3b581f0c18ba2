"""Per-step overhead of the engine vs. a baseline of RQ jobs chained with `depends_on`.

Both run 40 sequential trivial steps on one worker process in the same run of this script.
Engine figure: (run finished_at - run started_at) / 40, from the engine's own timestamps.
Baseline: (last job ended_at - first job started_at) / 40, from RQ's job timestamps.
"""

from __future__ import annotations

import json
import sys

from common import median, setup_django, start_workers, stop, wait_until

STEPS = 40
REPEATS = 7


def build_workflow():
    from django.utils import timezone

    from workflows.models import Action, Workflow, WorkflowVersion

    Workflow.objects.filter(name="bench-engine").delete()
    workflow = Workflow.objects.create(name="bench-engine")
    version = WorkflowVersion.objects.create(workflow=workflow, number=1)
    for index in range(STEPS):
        Action.objects.create(
            version=version, position=index, name=f"s{index}", type="set_variable",
            inputs={"name": "i", "value": index},
        )
    WorkflowVersion.objects.filter(id=version.id).update(
        status="published", published_at=timezone.now()
    )
    return workflow


def engine_once(workflow) -> float:
    from runner import services
    from runner.models import Run

    run = services.run_start(workflow=workflow, trigger_type="manual", trigger_input={})
    wait_until(lambda: Run.objects.filter(id=run.id, status="completed").exists(), 60, 0.005)
    run.refresh_from_db()
    return (run.finished_at - run.started_at).total_seconds() * 1000 / STEPS


def rq_chain_once() -> float:
    from runner.queueing import get_queue

    queue = get_queue()
    jobs = []
    previous = None
    for index in range(STEPS):
        previous = queue.enqueue_call(
            "bench.baseline_jobs.trivial_job", args=(index,), depends_on=previous
        )
        jobs.append(previous)
    last = jobs[-1]
    wait_until(lambda: last.get_status(refresh=True) == "finished", 60, 0.005)
    for job in (jobs[0], last):
        job.refresh()
    return (last.ended_at - jobs[0].started_at).total_seconds() * 1000 / STEPS


def measure() -> dict[str, float]:
    setup_django()
    workflow = build_workflow()
    worker = start_workers(1, sweeper=False)
    try:
        engine_once(workflow)  # warm-up
        rq_chain_once()
        engine = [engine_once(workflow) for _ in range(REPEATS)]
        baseline = [rq_chain_once() for _ in range(REPEATS)]
    finally:
        stop(worker)
    return {
        "engine_step_ms": round(median(engine), 3),
        "baseline_rq_chain_step_ms": round(median(baseline), 3),
    }


if __name__ == "__main__":
    results = measure()
    results["ratio_engine_to_rq_chain"] = round(
        results["engine_step_ms"] / results["baseline_rq_chain_step_ms"], 3
    )
    json.dump(results, sys.stdout, indent=2)
    print()
