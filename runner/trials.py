"""Reads about runs for the workflow pages: the editor's latest test run, the list's last runs.

`workflows` never imports `runner`; its pages load these through the fragments of
`runner.trial_views` instead.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import OuterRef, Subquery

from runner.models import LogLine, Run, StepEvent
from runner.sealing import shown
from workflows.models import Workflow

MAX_OUTPUT_CHARS = 4000
MAX_LOG_LINES = 500
ACTIVE = {"queued", "running", "waiting"}


def latest_test_run(workflow: Workflow) -> Run | None:
    return (Run.objects.filter(workflow=workflow, is_test=True).select_related("version")
            .order_by("-created_at").first())


def _step_keys(run: Run) -> dict[str, dict[str, Any]]:
    """Per step key: its action's name and latest status, inputs, output and error."""
    keys: dict[str, dict[str, Any]] = {}
    for event in StepEvent.objects.filter(run=run).exclude(step_key="").order_by("id"):
        step = keys.setdefault(event.step_key, {"name": event.action_name})
        step["status"] = event.status
        for attribute in ("inputs", "output", "error"):
            if (value := getattr(event, attribute)) is not None:
                step[attribute] = shown(value)
    return keys


def step_results(run: Run | None) -> dict[str, dict[str, Any]]:
    """Per action name: latest status, how many times it ran (loops), inputs, output, error, logs.

    Steps inside a loop run once per item under different step keys; the block shows the
    last one and the count, and `failed` if any of them failed.
    """
    if run is None:
        return {}
    keys = _step_keys(run)
    results: dict[str, dict[str, Any]] = {}
    for key, step in keys.items():
        result = results.setdefault(step["name"], {"count": 0, "statuses": [], "logs": []})
        result["count"] += 1
        result["statuses"].append(step["status"])
        result.update({k: step.get(k) for k in ("status", "inputs", "output", "error")})
        result["key"] = key
    by_key = {key: step["name"] for key, step in keys.items()}
    for line in LogLine.objects.filter(run=run).order_by("seq")[:MAX_LOG_LINES]:
        if name := by_key.get(line.step_key):
            results[name]["logs"].append(f"[{line.level}] {line.message}")
    for result in results.values():
        if "failed" in result["statuses"]:
            result["status"] = "failed"
        result["preview"] = _text(result.get("error") or result.get("output"), None)[:160]
        for part in ("inputs", "output", "error"):
            result[f"{part}_text"] = _text(result.get(part), 2)
    return results


def _text(value: Any, indent: int | None) -> str:
    if value is None:
        return ""
    text = json.dumps(value, indent=indent, default=str)
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + " …"


def run_summary(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "status": run.status, "active": run.status in ACTIVE,
            "error": run.error, "result": run.result, "version": run.version.number,
            "created_at": run.created_at}


def recent_runs(workflow: Workflow, limit: int = 20) -> list[Run]:
    return list(Run.objects.filter(workflow=workflow).select_related("environment")
                .order_by("-created_at")[:limit])


def run_count(workflow: Workflow) -> int:
    return Run.objects.filter(workflow=workflow).count()


def last_runs(workflow_ids: list[Any]) -> dict[Any, Run]:
    """The most recent run of each workflow, for the list page (one query, any backend)."""
    newest = Run.objects.filter(workflow_id=OuterRef("pk")).order_by("-created_at")
    ids = (Workflow.objects.filter(id__in=workflow_ids)
           .annotate(last=Subquery(newest.values("id")[:1])).values_list("last", flat=True))
    return {run.workflow_id: run for run in Run.objects.filter(id__in=[i for i in ids if i])}
