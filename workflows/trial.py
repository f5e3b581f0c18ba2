"""Test runs from the editor: the one place `workflows` reaches into `runner`.

Definitions never depend on execution; the editor's test-run buttons are the exception, so
the imports are made here, lazily, and nowhere else in the app.
"""

from __future__ import annotations

from typing import Any

from workflows.models import Workflow, WorkflowVersion

MAX_OUTPUT_CHARS = 4000
ACTIVE = {"queued", "running", "waiting"}


def test_run_start(*, workflow: Workflow, version: WorkflowVersion, sample: Any,
                   user: Any = None) -> Any:
    """Run `version` (a draft is allowed) in the first environment of the chain, as a test."""
    from environments.models import Environment
    from runner.services import run_start

    environment = Environment.objects.order_by("position").first()
    return run_start(workflow=workflow, version=version, environment=environment,
                     trigger_type="manual", trigger_input={"body": sample}, user=user,
                     is_test=True)


def latest_test_run(workflow: Workflow) -> Any:
    from runner.models import Run

    return Run.objects.filter(workflow=workflow, is_test=True).order_by("-created_at").first()


def last_sample(workflow: Workflow) -> Any:
    """The payload of the latest test run: the sample input is kept per workflow this way."""
    run = latest_test_run(workflow)
    return (run.trigger_input or {}).get("body", {}) if run else {}


def step_results(run: Any) -> dict[str, dict[str, Any]]:
    """Per action name: latest status, how many times it ran (loops), inputs, output, error, logs.

    Steps inside a loop run once per item under different step keys; the block shows the
    last one and the count.
    """
    if run is None:
        return {}
    from runner.models import LogLine, StepEvent

    keys: dict[str, dict[str, Any]] = {}
    for event in StepEvent.objects.filter(run=run).exclude(step_key="").order_by("id"):
        step = keys.setdefault(event.step_key, {"name": event.action_name})
        step["status"] = event.status
        for attribute in ("inputs", "output", "error"):
            if (value := getattr(event, attribute)) is not None:
                step[attribute] = value
    results: dict[str, dict[str, Any]] = {}
    for key, step in keys.items():
        result = results.setdefault(step["name"], {"count": 0, "statuses": [], "logs": []})
        result["count"] += 1
        result["statuses"].append(step["status"])
        result.update({k: step.get(k) for k in ("status", "inputs", "output", "error")})
        result["key"] = key
    by_key = {key: step["name"] for key, step in keys.items()}
    for line in LogLine.objects.filter(run=run).order_by("seq")[:500]:
        name = by_key.get(line.step_key)
        if name:
            results[name]["logs"].append(f"[{line.level}] {line.message}")
    for result in results.values():
        if "failed" in result["statuses"]:
            result["status"] = "failed"
        result["preview"] = _text(result.get("error") or result.get("output"), None)[:160]
        for part in ("inputs", "output", "error"):
            result[f"{part}_text"] = _text(result.get(part), 2)
    return results


def _text(value: Any, indent: int | None) -> str:
    import json

    if value is None:
        return ""
    text = json.dumps(value, indent=indent, default=str)
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + " …"


def run_summary(run: Any) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "status": run.status, "active": run.status in ACTIVE,
            "error": run.error, "result": run.result, "version": run.version.number,
            "created_at": run.created_at}


def last_runs(workflow_ids: list[Any]) -> dict[Any, Any]:
    """The most recent run of each workflow, for the list page (one query, any backend)."""
    from django.db.models import OuterRef, Subquery

    from runner.models import Run

    newest = Run.objects.filter(workflow_id=OuterRef("pk")).order_by("-created_at")
    ids = (Workflow.objects.filter(id__in=workflow_ids)
           .annotate(last=Subquery(newest.values("id")[:1])).values_list("last", flat=True))
    return {run.workflow_id: run for run in Run.objects.filter(id__in=[i for i in ids if i])}
