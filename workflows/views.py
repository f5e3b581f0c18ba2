"""Workflow pages: list, detail, create, duplicate, delete, activate, history, diff, export.

The editor and its htmx endpoints are in `workflows.editor_views`. Views stay thin: the
permission lookup, a form, one service or selector call, a template.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from access.http import HtmxHttpRequest
from access.models import SecurityGroup
from access.permissions import (
    WorkflowRight,
    creator_perimeters,
    may_make_token,
    token_groups_for,
    user_has_workflow_right,
)
from access.tokens import token_create
from workflows import selectors, services
from workflows.environment_chain import environment_chain
from workflows.format import ImportErrors, parse_document, workflow_import
from workflows.forms import WorkflowCreateForm, WorkflowImportForm
from workflows.models import Workflow


def get_workflow_for_user(
    request: HttpRequest, name: str, right: WorkflowRight = "view"
) -> Workflow:
    """404 without the view right (do not reveal it exists); 403 without the asked right."""
    workflow = get_object_or_404(Workflow, name=name)
    if not user_has_workflow_right(request.user, workflow, "view"):
        raise Http404("No such workflow")
    if right != "view" and not user_has_workflow_right(request.user, workflow, right):
        raise PermissionDenied(f"You may not {right} {workflow.name}.")
    return workflow


@login_required
@vary_on_headers("HX-Request")
def workflow_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = {
        "search": request.GET.get("q", "").strip(),
        "environment": request.GET.get("environment", ""),
        "tag": request.GET.get("tag", ""),
        "active": request.GET.get("active", ""),
    }
    workflows = list(selectors.workflow_list(user=request.user, **filters))
    if request.htmx:
        return render(request, "workflows/list.html#rows", {"workflows": workflows})
    return render(request, "workflows/list.html", {
        "workflows": workflows, "filters": filters, "environments": environment_chain(),
        "known_tags": selectors.known_tags(user=request.user),
    })


@login_required
def workflow_create(request: HttpRequest) -> HttpResponse:
    groups = creator_perimeters(request.user)
    form = WorkflowCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workflow, errors = services.workflow_create(
            name=form.cleaned_data["name"], description=form.cleaned_data["description"],
            user=request.user, perimeters=groups)
        if workflow is not None:
            return redirect("workflows:edit", name=workflow.name)
        for field, problems in errors.items():
            for problem in problems:
                form.add_error(field, problem)
    return render(request, "workflows/create.html", {"form": form})


def _import_groups(request: HttpRequest, document: dict) -> list:
    """Perimeters for a new workflow; an existing one may be replaced by its editors only."""
    name = document.get("name")
    existing = Workflow.objects.filter(name=name).first() if isinstance(name, str) else None
    if existing is not None and not user_has_workflow_right(request.user, existing, "edit"):
        raise ImportErrors([("name", f"a workflow named {name!r} exists and you may not "
                                     "edit it; rename the document")])
    return [] if existing else creator_perimeters(request.user)


@login_required
def workflow_import_page(request: HttpRequest) -> HttpResponse:
    """Upload or paste a workflow document; every problem is shown at its JSON path."""
    creator_perimeters(request.user)
    form = WorkflowImportForm(request.POST or None, request.FILES or None)
    problems: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            document = parse_document(form.raw_document(settings.OWLGRID_MAX_IMPORT_BYTES))
            version = workflow_import(
                document=document, user=request.user, publish=form.cleaned_data["publish"],
                note=form.cleaned_data["note"] or None,
                perimeters=_import_groups(request, document))
        except ImportErrors as errors:
            problems = errors.problems
        else:
            messages.success(request, f"Imported {version.workflow.name} as "
                                      f"{version.status} v{version.number}.")
            return redirect("workflows:edit", name=version.workflow.name)
    invalid = bool(problems or form.errors)
    return render(request, "workflows/import.html", {"form": form, "problems": problems},
                  status=400 if invalid else 200)


@login_required
@require_POST
def workflow_duplicate(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name, "edit")
    creator_perimeters(request.user)
    new_name = request.POST.get("new_name", "").strip() or f"{workflow.name}-copy"
    copy, errors = services.workflow_duplicate(workflow=workflow, name=new_name,
                                               user=request.user)
    if copy is None:
        messages.error(request, "; ".join(m for ms in errors.values() for m in ms))
        return redirect("workflows:detail", name=workflow.name)
    messages.success(request, f"Duplicated {workflow.name} as {copy.name}.")
    return redirect("workflows:edit", name=copy.name)


@login_required
def workflow_delete(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name, "edit")
    if request.method == "POST":
        if request.POST.get("confirm") != workflow.name:
            messages.error(request, "Type the workflow's name to confirm.")
        else:
            try:
                services.workflow_delete(workflow=workflow)
            except services.EditRefused as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Deleted {name}.")
                return redirect("workflows:list")
    return render(request, "workflows/delete.html", {"workflow": workflow})


@login_required
@require_POST
def workflow_set_active(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name, "edit")
    services.workflow_set_active(workflow=workflow, active=request.POST.get("active") == "1")
    messages.success(request, f"{workflow.name} is now "
                              f"{'active' if workflow.active else 'inactive'}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "workflows:list"
    return redirect(target or "workflows:list")


@login_required
def workflow_detail(request: HttpRequest, name: str) -> HttpResponse:
    return _render_detail(request, get_workflow_for_user(request, name))


@login_required
@require_POST
def hook_token(request: HttpRequest, name: str) -> HttpResponse:
    """Make an API token for the group an HTTP trigger admits, from the workflow page, and
    show it once beside the curl command that needs it."""
    workflow = get_workflow_for_user(request, name)
    group = SecurityGroup.objects.filter(name=request.POST.get("group", "")).first()
    if group is None or group.name not in {h["token_group"] for h in
                                           selectors.http_trigger_examples(workflow)}:
        raise Http404("No HTTP trigger of this workflow admits that group.")
    if not may_make_token(request.user, group):
        raise PermissionDenied(f"Only an administrator or a member of {group.name} may make "
                               "its tokens.")
    _, raw = token_create(group=group, name=f"{workflow.name} (from the workflow page)",
                          user=request.user)
    return _render_detail(request, workflow, new_token={"group": group.name, "value": raw})


def _render_detail(request: HttpRequest, workflow: Workflow, **extra: object) -> HttpResponse:
    version = selectors.latest_version(workflow)
    hooks = selectors.http_trigger_examples(workflow)
    return render(request, "workflows/detail.html", {
        **extra,
        "workflow": workflow,
        "version": version,
        "versions": workflow.versions.order_by("-number"),
        "tree": selectors.version_tree(version) if version else [],
        "triggers": version.triggers.all() if version else [],
        "deployments": workflow.deployments.select_related("environment", "version"),
        "stages": selectors.deployment_stages(workflow),
        "published": selectors.published_versions(workflow),
        "hooks": hooks,
        "schedules": selectors.schedule_previews(version) if version else [],
        "can_run": user_has_workflow_right(request.user, workflow, "run"),
        "can_edit": user_has_workflow_right(request.user, workflow, "edit"),
        "token_groups": token_groups_for(request.user, {h["token_group"] for h in hooks}),
    })


@login_required
def workflow_history(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name)
    return render(request, "workflows/history.html", {
        "workflow": workflow,
        "versions": workflow.versions.select_related("author").order_by("-number"),
        "can_edit": user_has_workflow_right(request.user, workflow, "edit"),
    })


def _number(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise Http404("No such version")
    return int(value)


@login_required
def workflow_diff(request: HttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name)
    numbers = list(workflow.versions.order_by("number").values_list("number", flat=True))
    if not numbers:
        raise Http404("No version")
    b = _number(request.GET.get("b"), numbers[-1])
    a = _number(request.GET.get("a"), max([n for n in numbers if n < b] or [b]))
    versions = {v.number: v for v in workflow.versions.filter(number__in=[a, b])}
    if a not in versions or b not in versions:
        raise Http404("No such version")
    diff = services.version_diff(a=versions[a], b=versions[b])
    return render(request, "workflows/diff.html", {
        "workflow": workflow, "a": a, "b": b, "numbers": numbers, "diff": diff,
    })


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
