"""Run pages: the runs list, a run's detail with its live log, and the log as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from access.http import HtmxHttpRequest
from access.permissions import WorkflowRight, user_has_workflow_right
from environments.models import Environment
from runner import run_page, selectors, services
from runner.models import LogLine, Run, RunStatus
from workflows.models import Workflow

PAGE_SIZE = 50


def get_run_for_user(request: HttpRequest, run_id: str) -> Run:
    """The run if the user may view its workflow; 404 otherwise (its existence stays hidden)."""
    run = get_object_or_404(
        Run.objects.select_related("workflow", "environment", "version"), id=run_id)
    if not user_has_workflow_right(request.user, run.workflow, "view"):
        raise Http404("No such run")
    return run


def run_for_action(request: HttpRequest, run_id: str, right: WorkflowRight) -> Run:
    """The run if the user holds `right` on its workflow; 403 for anyone else, outsiders too."""
    run = get_object_or_404(Run.objects.select_related("workflow", "environment"), id=run_id)
    if not user_has_workflow_right(request.user, run.workflow, right):
        raise PermissionDenied(f"You may not {right} runs of {run.workflow.name}.")
    return run


@login_required
@vary_on_headers("HX-Request")
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = selectors.RunFilters.from_query(request.GET)
    runs = selectors.runs_for_user(request.user, filters)
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "runner/list.html#runs" if request.htmx else "runner/list.html"
    return render(request, template, {
        "page": page, "filters": filters, "query": urlencode(filters.as_query()),
        "statuses": RunStatus.choices, "environments": Environment.objects.all(),
        "since_choices": list(selectors.SINCE), "trigger_types": selectors.trigger_filter_choices(),
    })


@login_required
@vary_on_headers("HX-Request")
def run_detail(request: HtmxHttpRequest, run_id: str) -> HttpResponse:
    """The whole page, or (htmx) the parts that change as the run moves: steps, result."""
    run = get_run_for_user(request, run_id)
    steps = selectors.run_steps(run)
    open_loop = run_page.OpenLoop.from_query(request.GET.get("loop"), request.GET.get("page"))
    rows = run_page.page_rows(steps, open_loop)
    template = "runner/detail.html#state" if request.htmx else "runner/detail.html"
    return render(request, template, {
        "run": run, "steps": rows, "timeline": selectors.timeline(run, rows),
        "open_loop": open_loop, "blocks": run_page.block_names(steps),
        **run_page.run_data_json(run),
        "run_events": selectors.run_events(run),
        "failed_step": selectors.failed_step(steps),
        "approvals": selectors.pending_approvals(run, request.user, steps),
        "can_run": user_has_workflow_right(request.user, run.workflow, "run"),
        "retryable": run.status in {RunStatus.FAILED, RunStatus.CANCELLED},
    })


@login_required
@require_POST
def run_cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    run = run_for_action(request, run_id, "run")
    if services.run_cancel(run=run, user=request.user):
        messages.info(request, "Cancellation requested.")
    else:
        messages.error(request, "This run has already finished.")
    return redirect("runner:detail", run_id=run.id)


@login_required
@require_POST
def run_retry(request: HttpRequest, run_id: str) -> HttpResponse:
    run = run_for_action(request, run_id, "run")
    try:
        new_run = services.run_retry(run=run, user=request.user,
                                     latest_version=request.POST.get("version") == "latest")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("runner:detail", run_id=run.id)
    return redirect("runner:detail", run_id=new_run.id)


@login_required
@require_POST
def run_rerun(request: HttpRequest, run_id: str) -> HttpResponse:
    run = run_for_action(request, run_id, "run")
    return redirect("runner:detail", run_id=services.run_rerun(run=run, user=request.user).id)


@login_required
@require_POST
def run_decide(request: HttpRequest, run_id: str) -> HttpResponse:
    run = run_for_action(request, run_id, "approve")
    try:
        accepted = services.run_decide(
            run=run, step_key=request.POST.get("step", ""), user=request.user,
            approve=request.POST.get("decision") == "approve",
            comment=request.POST.get("comment", "")[:2000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("runner:detail", run_id=run.id)
    if not accepted:
        messages.error(request, "This approval was already decided.")
    return redirect("runner:detail", run_id=run.id)


@login_required
def run_log_download(request: HttpRequest, run_id: str) -> StreamingHttpResponse:
    run = get_run_for_user(request, run_id)

    def lines() -> Iterator[str]:
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
    if not user_has_workflow_right(request.user, workflow, "view"):
        raise Http404("No such workflow")
    if not user_has_workflow_right(request.user, workflow, "run"):
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
