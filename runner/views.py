"""Run pages: the runs list, a run's detail with its live log, and the log as text."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from environments.models import Environment
from environments.permissions import user_has_workflow_right, workflows_visible_to
from runner import services
from runner.models import LogLine, Run, RunStatus
from workflows.models import Workflow


def get_run_for_user(request: HttpRequest, run_id: str, right: str = "view") -> Run:
    run = get_object_or_404(Run.objects.select_related("workflow", "environment"), id=run_id)
    if not user_has_workflow_right(request.user, run.workflow, right):  # type: ignore[arg-type]
        raise Http404("No such run")
    return run


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    visible = workflows_visible_to(request.user, Workflow.objects.all())
    runs = Run.objects.filter(workflow__in=visible).select_related("workflow", "environment")
    status = request.GET.get("status", "")
    if status in RunStatus.values:
        runs = runs.filter(status=status)
    workflow = request.GET.get("workflow", "")
    if workflow:
        runs = runs.filter(workflow__name=workflow)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "runner/list.html",
        {"page": page, "statuses": RunStatus.choices, "status": status, "workflow": workflow},
    )


@login_required
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    events = run.step_events.order_by("id")
    return render(request, "runner/detail.html", {"run": run, "events": events})


@login_required
def run_log_download(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    if run is None:
        raise Http404

    def lines():
        for line in LogLine.objects.filter(run=run).order_by("seq").iterator(chunk_size=2000):
            yield f"{line.seq}\t{line.created_at.isoformat()}\t{line.level}\t{line.step_key}\t"
            yield f"{line.message}\n"

    response = StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.id}.log"'
    return response


@login_required
@require_POST
def workflow_run_start(request: HttpRequest, name: str) -> HttpResponse:
    """The manual trigger: start the version deployed in the chosen environment."""
    workflow = get_object_or_404(Workflow, name=name)
    if not user_has_workflow_right(request.user, workflow, "view"):  # type: ignore[arg-type]
        raise Http404("No such workflow")
    if not user_has_workflow_right(request.user, workflow, "run"):  # type: ignore[arg-type]
        return HttpResponse("You may not run this workflow.", status=403)
    environment = Environment.objects.filter(name=request.POST.get("environment", "")).first()
    try:
        payload = json.loads(request.POST.get("input") or "{}")
    except ValueError as exc:
        messages.error(request, f"Input: not valid JSON ({exc}).")
        return redirect("workflows:detail", name=name)
    try:
        run = services.run_start_manual(workflow=workflow, environment=environment,
                                        payload=payload, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("workflows:detail", name=name)
    return redirect("runner:detail", run_id=run.id)
