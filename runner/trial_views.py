"""Run data on the workflow pages: the editor's test runs, the list's last runs, recent runs.

These views live in `runner` because `workflows` never imports it; the workflow pages embed
their fragments (htmx loads them, and a plain link stands in without JavaScript).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from access.permissions import workflows_visible_to
from runner import services, trials
from workflows.models import Workflow
from workflows.selectors import latest_version
from workflows.views import get_workflow_for_user

MAX_LIST_IDS = 500


@login_required
@require_POST
def test_run(request: HttpRequest, name: str) -> HttpResponse:
    """Run the draft with the posted sample (kept with the workflow); answer with its status."""
    workflow = get_workflow_for_user(request, name, "edit")
    try:
        sample = json.loads(request.POST.get("sample", "").strip() or "{}")
    except json.JSONDecodeError as exc:
        return render(request, "runner/_test_run.html", {
            "workflow": workflow, "run": None,
            "sample_error": f"Enter valid JSON: {exc.msg} (line {exc.lineno})."}, status=400)
    run = services.test_run_start(workflow=workflow, sample=sample, user=request.user)
    if not getattr(request, "htmx", False):
        return redirect("workflows:edit", name=workflow.name)
    return _render_status(request, workflow, run)


@login_required
@require_GET
def test_status(request: HttpRequest, name: str) -> HttpResponse:
    """The latest test run's status, polled while it runs, with each block's result."""
    workflow = get_workflow_for_user(request, name, "edit")
    return _render_status(request, workflow, trials.latest_test_run(workflow))


def _render_status(request: HttpRequest, workflow: Workflow, run: Any) -> HttpResponse:
    """The run's status, plus each block's result swapped in place (out of band)."""
    version = latest_version(workflow)
    results = trials.step_results(run)
    actions = version.actions.all() if version else []
    return render(request, "runner/_test_run.html", {
        "workflow": workflow, "run": trials.run_summary(run),
        "oob_results": [(a.id, results.get(a.name)) for a in actions],
    })


def _uuids(values: list[str]) -> list[uuid.UUID]:
    found = []
    for value in values[:MAX_LIST_IDS]:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


@login_required
@require_GET
def last_runs(request: HttpRequest) -> HttpResponse:
    """The last run of each listed workflow the user may see, as out-of-band cells."""
    visible = workflows_visible_to(request.user, Workflow.objects.filter(
        id__in=_uuids(request.GET.getlist("w"))))
    ids = list(visible.values_list("id", flat=True))
    runs = trials.last_runs(ids)
    return render(request, "runner/_last_runs.html",
                  {"rows": [(workflow_id, runs.get(workflow_id)) for workflow_id in ids]})


@login_required
@require_GET
def workflow_runs(request: HttpRequest, name: str) -> HttpResponse:
    """The workflow's recent runs for its page (`?count=1`: how many runs it has)."""
    workflow = get_workflow_for_user(request, name)
    runs = trials.recent_runs(workflow)
    return render(request, "runner/_workflow_runs.html", {
        "workflow": workflow, "runs": runs, "count": trials.run_count(workflow),
        "count_only": request.GET.get("count") == "1"})
