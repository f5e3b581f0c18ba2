"""Reads of execution data, shared by views, the API and websocket consumers."""

from __future__ import annotations

from typing import Any

from environments.permissions import user_has_workflow_right
from runner.models import LogLine, Run


def line_as_dict(line: LogLine) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "step": line.step_key,
        "level": line.level,
        "message": line.message,
        "time": line.created_at.isoformat(),
    }


def log_lines_after(run_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    lines = LogLine.objects.filter(run_id=run_id, seq__gt=after_seq).order_by("seq")[:limit]
    return [line_as_dict(line) for line in lines]


def user_may_view_run(user: Any, run_id: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    run = Run.objects.select_related("workflow").filter(id=run_id).first()
    return run is not None and user_has_workflow_right(user, run.workflow, "view")


def visible_run_filter(user: Any):
    """A predicate telling whether a run id belongs to a workflow the user may view."""
    from environments.permissions import workflows_visible_to
    from workflows.models import Workflow

    workflow_ids = set(
        workflows_visible_to(user, Workflow.objects.all()).values_list("id", flat=True)
    )

    def visible(run_id: str) -> bool:
        return Run.objects.filter(id=run_id, workflow_id__in=workflow_ids).exists()

    return visible


def run_steps(run: Run) -> list[dict[str, Any]]:
    """Each step of a run (latest state, attempts, timings, data), in the order they started."""
    from runner.models import StepEvent

    steps: dict[str, dict[str, Any]] = {}
    for event in StepEvent.objects.filter(run=run).exclude(step_key="").order_by("id"):
        step = steps.setdefault(event.step_key, {
            "key": event.step_key, "name": event.action_name, "type": event.action_type,
            "depth": event.step_key.count("/"), "started_at": event.created_at,
            "inputs": None, "output": None, "error": None, "attempts": 0, "events": [],
        })
        step["status"] = event.status
        step["ended_at"] = event.created_at
        step["attempts"] = max(step["attempts"], event.attempt)
        step["events"].append({"status": event.status, "at": event.created_at,
                               "attempt": event.attempt, "worker": event.worker})
        for field in ("inputs", "output", "error"):
            value = getattr(event, field)
            if value is not None:
                step[field] = value
    return list(steps.values())


def timeline(run: Run, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars for the steps: offset and width as percentages of the run's duration."""
    if not steps:
        return []
    start = run.started_at or steps[0]["started_at"]
    end = run.finished_at or max(step["ended_at"] for step in steps)
    total = max((end - start).total_seconds(), 0.001)
    return [
        {
            "step": step,
            "left": round(max(0.0, (step["started_at"] - start).total_seconds()) / total * 100, 2),
            "width": round(max(0.5, (step["ended_at"] - step["started_at"]).total_seconds()
                               / total * 100), 2),
            "seconds": round((step["ended_at"] - step["started_at"]).total_seconds(), 3),
        }
        for step in steps
    ]


def pending_approvals(run: Run, user: Any) -> list[dict[str, Any]]:
    """Approval steps waiting for a decision that this user may make."""
    if run.status != "waiting" or not user.is_authenticated:
        return []
    groups = set(user.security_groups.values_list("name", flat=True))
    return [
        step for step in run_steps(run)
        if step["type"] == "approval" and step["status"] == "waiting"
        and not ((step["output"] or {}).get("state") or {}).get("decision")
        and (step["inputs"] or {}).get("group") in groups
    ]
