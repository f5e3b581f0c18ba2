"""Workflow pages: thin views over selectors and services."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.vary import vary_on_headers

from environments.models import Environment
from environments.permissions import user_has_workflow_right
from workflows import selectors
from workflows.models import Workflow


def get_workflow_for_user(request: HttpRequest, name: str, right: str = "view") -> Workflow:
    workflow = get_object_or_404(Workflow, name=name)
    if not user_has_workflow_right(request.user, workflow, right):  # type: ignore[arg-type]
        raise Http404("No such workflow")  # do not reveal that it exists
    return workflow


@login_required
@vary_on_headers("HX-Request")
def workflow_list(request: HttpRequest) -> HttpResponse:
    filters = {
        "search": request.GET.get("q", "").strip(),
        "environment": request.GET.get("environment", ""),
        "tag": request.GET.get("tag", ""),
        "active": request.GET.get("active", ""),
    }
    workflows = selectors.workflow_list(user=request.user, **filters)
    template = "workflows/list.html#rows" if request.htmx else "workflows/list.html"
    return render(
        request,
        template,
        {
            "workflows": workflows,
            "filters": filters,
            "environments": Environment.objects.all(),
        },
    )


@login_required
def workflow_detail(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name)
    version = selectors.latest_version(workflow)
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "version": version,
            "versions": workflow.versions.order_by("-number"),
            "tree": selectors.version_tree(version) if version else [],
            "triggers": version.triggers.all() if version else [],
            "deployments": workflow.deployments.select_related("environment", "version"),
            "runs": workflow.runs.select_related("environment")[:20],
            "hooks": selectors.http_trigger_examples(workflow),
            "schedules": selectors.schedule_previews(version) if version else [],
            "can_run": user_has_workflow_right(request.user, workflow, "run"),  # type: ignore[arg-type]
        },
    )


@login_required
def workflow_export_download(request: HttpRequest, name: str) -> HttpResponse:
    from workflows.format import workflow_export

    workflow = get_workflow_for_user(request, name)
    number = request.GET.get("version")
    if number and not number.isdigit():
        raise Http404("No such version")
    try:
        document = workflow_export(workflow=workflow, number=int(number) if number else None)
    except workflow.versions.model.DoesNotExist:
        raise Http404("No such version") from None
    response = HttpResponse(
        json.dumps(document, indent=2, sort_keys=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{workflow.name}.json"'
    return response
