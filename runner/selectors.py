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
