"""The editor page and its htmx endpoints; each edit answers with just the fragment it changes.

Every write goes through `workflows.services`, which validates it whole: the browser can never
save an invalid tree, whatever it posts. Editing needs the `edit` right; the page shows the
workflow's draft (made on first visit from the latest version).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from access.http import HtmxHttpRequest
from workflows import editor, selectors, services
from workflows.forms import ActionForm, WorkflowSettingsForm, check_input_text
from workflows.models import Action, Trigger, Workflow, WorkflowVersion
from workflows.trigger_forms import TriggerForm
from workflows.views import get_workflow_for_user

TEMPLATE = "workflows/editor.html"


def _shown(request: HttpRequest, name: str) -> tuple[Workflow, WorkflowVersion]:
    """The version the editor shows: the draft, else the latest version (no draft is made
    until something changes)."""
    workflow = get_workflow_for_user(request, name, "edit")
    version = selectors.latest_version(workflow)  # a draft is always the latest
    if version is None:  # a workflow always has a version; this only repairs one that lost it
        version = services.draft_get_or_create(workflow=workflow, user=request.user)
    return workflow, version


def _draft(request: HttpRequest, name: str) -> tuple[Workflow, WorkflowVersion]:
    """The draft to change, made now from the latest version if there is none."""
    workflow = get_workflow_for_user(request, name, "edit")
    draft = workflow.versions.filter(status=WorkflowVersion.Status.DRAFT).first()
    if draft is None:
        draft = services.draft_get_or_create(workflow=workflow, user=request.user)
        request.draft_started = draft  # type: ignore[attr-defined]
    return workflow, draft


def announces_new_draft(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A write that started the draft also refreshes the page's title and versions, which
    showed the published version the draft was copied from."""
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = view(request, *args, **kwargs)
        draft = getattr(request, "draft_started", None)
        if draft is None or response.status_code >= 300 or response.streaming:
            return response
        workflow = draft.workflow
        context = {"workflow": workflow, "version": draft, "oob": True,
                   **_side_context(workflow, draft)}
        response.content += (render_to_string(f"{TEMPLATE}#title", context, request)
                             + render_to_string(f"{TEMPLATE}#versions", context, request)
                             ).encode()
        return response
    return wrapper


def _action(version: WorkflowVersion, action_id: Any) -> Action:
    """A block of `version`; an id from the version a new draft was copied from (the page
    showed it) is the draft's block of the same name."""
    found = Action.objects.filter(id=action_id, version=version).first()
    if found is None and version.status == WorkflowVersion.Status.DRAFT:
        shown = Action.objects.filter(id=action_id, version__workflow=version.workflow,
                                      version__status=WorkflowVersion.Status.PUBLISHED).first()
        if shown is not None:
            found = Action.objects.filter(version=version, name=shown.name).first()
    if found is None:
        raise Http404("No such block in this version.")
    return found


def _trigger(version: WorkflowVersion, trigger_id: Any) -> Trigger:
    """A trigger of `version`, found like `_action` finds a block (by name and place)."""
    found = Trigger.objects.filter(id=trigger_id, version=version).first()
    if found is None and version.status == WorkflowVersion.Status.DRAFT:
        shown = Trigger.objects.filter(id=trigger_id, version__workflow=version.workflow,
                                       version__status=WorkflowVersion.Status.PUBLISHED).first()
        if shown is not None:
            found = Trigger.objects.filter(version=version, name=shown.name,
                                           position=shown.position).first()
    if found is None:
        raise Http404("No such trigger in this version.")
    return found


def _parent(version: WorkflowVersion, raw: str | None) -> Action | None:
    return _action(version, raw) if raw else None


def _position(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) < 2**31 else None


def _tree_context(workflow: Workflow, version: WorkflowVersion, **extra: Any) -> dict[str, Any]:
    return {"workflow": workflow, "version": version, "palette": editor.palette(),
            "tree": editor.editor_tree(version), **extra}


def _render_tree(request: HttpRequest, workflow: Workflow, version: WorkflowVersion,
                 error: str = "", status: int = 200) -> HttpResponse:
    """The tree; the test-run panel (served by `runner`) then refills the blocks' results."""
    context = _tree_context(workflow, version, tree_error=error)
    response = render(request, f"{TEMPLATE}#tree", context, status=status)
    response["HX-Trigger"] = "owlgrid:tree-changed"
    return response


def _panel(request: HttpRequest, workflow: Workflow, action: Action,
           form: ActionForm | None = None, saved: bool = False,
           renamed: bool = False) -> HttpResponse:
    """The side panel; once saved, the block's head too, or the whole tree after a rename
    (other blocks' expressions were rewritten to the new name)."""
    check_url = reverse("workflows:edit_check", args=[workflow.name])
    form = form or ActionForm(action=action, check_url=check_url)
    tree = editor.editor_tree(action.version)
    response = render(request, f"{TEMPLATE}#panel", {
        "workflow": workflow, "action": action, "form": form, "saved": saved,
        "action_type": form.action_type, "oob_node": _find(tree, action.id) if saved else None,
        "tree_oob": renamed, "tree": tree, "palette": editor.palette(),
        "suggestions": editor.suggestions(action, workflow.test_sample),
    })
    if renamed:
        response["HX-Trigger"] = "owlgrid:tree-changed"
    return response


def _find(nodes: list[editor.Node], action_id: Any) -> editor.Node | None:
    for node in nodes:
        if node.action.id == action_id:
            return node
        for _, children in node.slots:
            if found := _find(children, action_id):
                return found
    return None


@login_required
@require_GET
def edit(request: HttpRequest, name: str) -> HttpResponse:
    workflow, version = _shown(request, name)
    return render(request, TEMPLATE, {
        **_tree_context(workflow, version),
        **_side_context(workflow, version),
        "sample": json.dumps(workflow.test_sample, indent=2),
    })


def _side_context(workflow: Workflow, draft: WorkflowVersion) -> dict[str, Any]:
    triggers = list(draft.triggers.select_related("access_group").order_by("position"))
    return {
        "triggers": [(t, TriggerForm.for_trigger(t), editor.trigger_starter(workflow, t))
                     for t in triggers],
        "trigger_types": editor.trigger_menu(),
        "settings_form": WorkflowSettingsForm(initial={
            "name": workflow.name, "description": workflow.description,
            "tags": ", ".join(workflow.tags or []), "concurrency_limit": workflow.concurrency_limit,
            "perimeters": list(workflow.perimeters.values_list("id", flat=True))}),
        "versions": workflow.versions.select_related("author").order_by("-number"),
        "problems": [(place, message) for _, place, message
                     in services.version_problems_in_words(draft)],
        "warnings": editor.version_warnings(draft),
    }


# --- the tree ---------------------------------------------------------------------------------


@login_required
@require_POST
@announces_new_draft
def action_add(request: HttpRequest, name: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    try:
        action = services.action_add(
            version=draft, type=request.POST.get("type", ""),
            parent=_parent(draft, request.POST.get("parent")),
            slot=request.POST.get("slot", ""), position=_position(request.POST.get("position")))
    except ValidationError as exc:
        return _render_tree(request, workflow, draft, " ".join(exc.messages), 400)
    response = _render_tree(request, workflow, draft)
    response["HX-Trigger-After-Settle"] = json.dumps({"owlgrid:select": str(action.id)})
    return response


@login_required
@require_POST
@announces_new_draft
def action_move(request: HttpRequest, name: str, action_id: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    action = _action(draft, action_id)
    position = _position(request.POST.get("position"))
    try:
        services.action_move(action=action, parent=_parent(draft, request.POST.get("parent")),
                             slot=request.POST.get("slot", ""), position=position or 0)
    except ValidationError as exc:
        return _render_tree(request, workflow, draft, " ".join(exc.messages), 400)
    return _render_tree(request, workflow, draft)


@login_required
@require_POST
@announces_new_draft
def action_delete(request: HttpRequest, name: str, action_id: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    services.action_delete(action=_action(draft, action_id))
    return _render_tree(request, workflow, draft)


@login_required
@require_POST
@announces_new_draft
def action_duplicate(request: HttpRequest, name: str, action_id: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    clone = services.action_duplicate(action=_action(draft, action_id))
    response = _render_tree(request, workflow, draft)
    response["HX-Trigger-After-Settle"] = json.dumps({"owlgrid:select": str(clone.id)})
    return response


@login_required
@announces_new_draft
def action_edit(request: HttpRequest, name: str, action_id: str) -> HttpResponse:
    if request.method != "POST":
        workflow, shown = _shown(request, name)
        return _panel(request, workflow, _action(shown, action_id))
    workflow, draft = _draft(request, name)
    action = _action(draft, action_id)
    check_url = reverse("workflows:edit_check", args=[workflow.name])
    form = ActionForm(request.POST, action=action, check_url=check_url)
    if not form.is_valid():
        return _panel(request, workflow, action, form)
    data = form.cleaned_data
    old_name = action.name
    errors = services.action_update(
        action=action, inputs=data["inputs"], name=data["name"], description=data["description"],
        retry=data["retry"], timeout_seconds=data.get("timeout_seconds") or None,
        continue_on_error=data["continue_on_error"])
    if errors:
        action.refresh_from_db()
        form.add_service_errors(errors)
        return _panel(request, workflow, action, form)
    return _panel(request, workflow, action, saved=True, renamed=action.name != old_name)


@login_required
@require_POST
def expression_check(request: HttpRequest, name: str) -> HttpResponse:
    """Flag invalid JSON or an expression's syntax error as the user types, and say how a
    structure will be sent; saving validates again on the server."""
    get_workflow_for_user(request, name, "edit")
    field = request.POST.get("field", "")
    problem, description = check_input_text(request.POST.get(field, ""),
                                            request.POST.get("kind", "text"))
    if problem:
        return HttpResponse(format_html('<span class="error">{}</span>', problem))
    return HttpResponse(format_html('<span class="muted">{}</span>', description)
                        if description else "")


# --- triggers, settings, versions ----------------------------------------------------


def _render_side(request: HttpRequest, workflow: Workflow, draft: WorkflowVersion,
                 partial: str, **extra: Any) -> HttpResponse:
    context = {"workflow": workflow, "version": draft, **_side_context(workflow, draft), **extra}
    return render(request, f"{TEMPLATE}#{partial}", context,
                  status=400 if extra.get("invalid") else 200)


@login_required
@require_POST
@announces_new_draft
def trigger_add(request: HttpRequest, name: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    _, errors = services.trigger_add(version=draft, type=request.POST.get("type", ""))
    return _render_side(request, workflow, draft, "triggers", trigger_errors=errors,
                        invalid=bool(errors))


@login_required
@require_POST
@announces_new_draft
def trigger_edit(request: HttpRequest, name: str, trigger_id: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    trigger = _trigger(draft, trigger_id)
    form = TriggerForm(request.POST, prefix=f"t{trigger.pk.hex[:8]}", trigger_type=trigger.type)
    if form.is_valid():
        errors = services.trigger_update(
            trigger=trigger, name=form.cleaned_data["name"],
            settings=form.cleaned_data["settings"], access=form.cleaned_data["access"],
            access_group=form.cleaned_data["access_group"])
        for field, problems in errors.items():
            for problem in problems:
                target = field if field in form.fields else (
                    form.field_for_setting(field.removeprefix("settings.").split(".")[0])
                    if field.startswith("settings") else None)
                form.add_error(target, problem if target and target != "settings"
                               else f"{field}: {problem}")
    if form.errors:
        context = _side_context(workflow, draft)
        context["triggers"] = [(t, form if t.id == trigger.id else f, x)
                               for t, f, x in context["triggers"]]
        return render(request, f"{TEMPLATE}#triggers", {"workflow": workflow, "version": draft,
                                                        **context}, status=400)
    return _render_side(request, workflow, draft, "triggers", trigger_saved=trigger.id)


@login_required
@require_POST
@announces_new_draft
def trigger_delete(request: HttpRequest, name: str, trigger_id: str) -> HttpResponse:
    workflow, draft = _draft(request, name)
    services.trigger_delete(trigger=_trigger(draft, trigger_id))
    return _render_side(request, workflow, draft, "triggers")


@login_required
@require_POST
def settings_edit(request: HttpRequest, name: str) -> HttpResponse:
    workflow, draft = _shown(request, name)
    form = WorkflowSettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        errors = services.workflow_update_settings(
            workflow=workflow, name=data["name"], description=data["description"],
            tags=data["tags"], perimeters=list(data["perimeters"]),
            concurrency_limit=data["concurrency_limit"])
        for field, problems in errors.items():
            for problem in problems:
                form.add_error(field, problem)
        if not errors and workflow.name != name:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("workflows:edit", args=[workflow.name])
            return response
    if form.errors:
        workflow.refresh_from_db()
        return render(request, f"{TEMPLATE}#settings", {
            "workflow": workflow, "version": draft, "settings_form": form}, status=400)
    return _render_side(request, workflow, draft, "settings", settings_saved=True)


def _back_to_editor(request: HtmxHttpRequest, workflow: Workflow) -> HttpResponse:
    url = reverse("workflows:edit", args=[workflow.name])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@login_required
@require_POST
def version_publish(request: HtmxHttpRequest, name: str) -> HttpResponse:
    workflow, draft = _shown(request, name)
    if draft.is_published:
        return _render_side(request, workflow, draft, "versions", invalid=True, publish_errors=[
            f"Nothing to publish: version {draft.number} is published and nothing has changed "
            "since. Edit a block, a trigger or the settings to start a draft."])
    try:
        version = services.version_publish(version=draft, user=request.user,
                                           note=request.POST.get("note", "").strip())
    except services.EditRefused as exc:
        return _render_side(request, workflow, draft, "versions", publish_errors=exc.messages,
                            invalid=True)
    messages.success(request, f"Published version {version.number}.")
    return _back_to_editor(request, workflow)


@login_required
@require_POST
def version_restore(request: HtmxHttpRequest, name: str) -> HttpResponse:
    workflow = get_workflow_for_user(request, name, "edit")
    number = _position(request.POST.get("number"))
    if number is None or not workflow.versions.filter(number=number).exists():
        messages.error(request, "No such version.")
        return _back_to_editor(request, workflow)
    draft = services.version_restore(workflow=workflow, number=number, user=request.user)
    messages.success(request, f"Version {number} restored as draft {draft.number}.")
    return _back_to_editor(request, workflow)
