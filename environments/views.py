"""Environment, security group and promotion pages. Administrators edit; deployers promote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from access.models import ApiToken, SecurityGroup
from access.permissions import is_administrator, user_has_workflow_right, workflows_visible_to
from access.tokens import token_create, token_revoke
from environments import forms, services
from environments.models import Connection, Environment, Variable
from environments.promotion import (
    PromotionRefused,
    workflow_promote,
    workflow_rollback,
)
from workflows.models import Workflow, WorkflowVersion
from workflows.selectors import published_versions


def require_admin(request: HttpRequest) -> None:
    if not is_administrator(request.user):  # type: ignore[arg-type]
        raise PermissionDenied("Only administrators change environments and groups.")


@login_required
def environment_list(request: HttpRequest) -> HttpResponse:
    form = forms.EnvironmentForm(request.POST or None)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            services.environment_create(**form.cleaned_data)
            return redirect("environments:list")
    environments = Environment.objects.prefetch_related(
        "variables", "connections", "deployments__workflow", "deployments__version")
    return render(request, "environments/list.html", {
        "environments": environments, "form": form,
        "is_admin": is_administrator(request.user),  # type: ignore[arg-type]
    })


@login_required
@require_POST
def environment_rename(request: HttpRequest, name: str) -> HttpResponse:
    require_admin(request)
    environment = get_object_or_404(Environment, name=name)
    label = request.POST.get("label", "").strip()[:100]
    if label:
        services.environment_relabel(environment=environment, label=label)
    return redirect("environments:detail", name=name)


@login_required
@require_POST
def environment_move(request: HttpRequest, name: str) -> HttpResponse:
    require_admin(request)
    environment = get_object_or_404(Environment, name=name)
    services.environment_move(environment=environment, up=request.POST.get("direction") == "up")
    return redirect("environments:list")


def detail_context(request: HttpRequest, environment: Environment,
                   **form_overrides: Any) -> dict[str, Any]:
    # Only what the user's perimeter allows: another group's workflows are not listed.
    visible = workflows_visible_to(request.user, Workflow.objects.all()).values("id")
    return {
        "environment": environment,
        "variables": environment.variables.all(),
        "connections": environment.connections.all(),
        "deployments": environment.deployments.filter(workflow__in=visible)
        .select_related("workflow", "version"),
        "history": environment.promotions.filter(workflow__in=visible)
        .select_related("workflow", "version", "user", "source")[:50],
        # A promotion check's "set X in prod" link names the variable or connection to make.
        "variable_form": form_overrides.get("variable_form", forms.VariableForm(
            initial={"name": request.GET.get("variable", "")})),
        "connection_form": form_overrides.get("connection_form", forms.ConnectionForm(
            initial={"name": request.GET.get("connection", "")})),
        "is_admin": is_administrator(request.user),  # type: ignore[arg-type]
    }


@login_required
def environment_detail(request: HttpRequest, name: str) -> HttpResponse:
    environment = get_object_or_404(Environment, name=name)
    return render(request, "environments/detail.html", detail_context(request, environment))


def _detail_with(request: HttpRequest, environment: Environment, **forms_: Any) -> HttpResponse:
    """The page again with the invalid form, its errors at their fields; nothing was saved."""
    return render(request, "environments/detail.html",
                  detail_context(request, environment, **forms_), status=400)


@login_required
@require_POST
def variable_save(request: HttpRequest, name: str) -> HttpResponse:
    require_admin(request)
    environment = get_object_or_404(Environment, name=name)
    form = forms.VariableForm(request.POST)
    if not form.is_valid():
        return _detail_with(request, environment, variable_form=form)
    existing = Variable.objects.filter(environment=environment,
                                       name=form.cleaned_data["name"]).first()
    if form.cleaned_data["is_secret"] and not form.cleaned_data["value"] and (
            existing is None or not existing.is_secret):
        form.add_error("value", "Give the secret's value.")
        return _detail_with(request, environment, variable_form=form)
    services.variable_set(environment=environment, **form.cleaned_data)
    messages.success(request, f"Saved {form.cleaned_data['name']}.")
    return redirect("environments:detail", name=name)


@login_required
@require_POST
def variable_delete(request: HttpRequest, name: str, variable: str) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(Variable, environment__name=name, name=variable)
    deleted = delete_unless_in_use(request, lambda: services.variable_delete(variable=target))
    if deleted:
        messages.success(request, f"Deleted variable {variable}.")
    return redirect("environments:detail", name=name)


def delete_unless_in_use(request: HttpRequest, delete: Callable[[], None]) -> bool:
    """Run a delete; a refusal (something deployed needs it) becomes the page's message."""
    try:
        delete()
    except services.InUse as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    return True


@login_required
@require_POST
def connection_save(request: HttpRequest, name: str) -> HttpResponse:
    require_admin(request)
    environment = get_object_or_404(Environment, name=name)
    form = forms.ConnectionForm(request.POST)
    if not form.is_valid():
        return _detail_with(request, environment, connection_form=form)
    try:
        services.connection_save(environment=environment, name=form.cleaned_data["name"],
                                 kind=form.cleaned_data["kind"], config=form.config(),
                                 secret_values=form.secret_values())
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _detail_with(request, environment, connection_form=form)
    messages.success(request, f"Saved connection {form.cleaned_data['name']}.")
    return redirect("environments:detail", name=name)


@login_required
@require_POST
def connection_delete(request: HttpRequest, name: str, connection: str) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(Connection, environment__name=name, name=connection)
    if delete_unless_in_use(request, lambda: services.connection_delete(connection=target)):
        messages.success(request, f"Deleted connection {connection}.")
    return redirect("environments:detail", name=name)


@login_required
@require_POST
def connection_check(request: HttpRequest, name: str, connection: str) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(Connection, environment__name=name, name=connection)
    ok, message = services.connection_test(connection=target)
    target.refresh_from_db()
    return render(request, "environments/_connection_test.html",
                  {"connection": target, "ok": ok, "message": message})


@login_required
def security_group_list(request: HttpRequest) -> HttpResponse:
    """Every group with its rights; administrators create new ones here."""
    form = forms.GroupCreateForm(request.POST or None)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            try:
                group = services.group_create(name=form.cleaned_data["name"],
                                              description=form.cleaned_data["description"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Created security group {group.name}.")
                return redirect("environments:group", group=group.name)
    groups = SecurityGroup.objects.prefetch_related("members", "deploy_environments", "tokens")
    return render(request, "environments/security_groups.html", {
        "groups": groups, "form": form,
        "is_admin": is_administrator(request.user)})  # type: ignore[arg-type]


@login_required
@require_POST
def security_group_delete(request: HttpRequest, group: str) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(SecurityGroup, name=group)
    if request.POST.get("confirm") != target.name:
        messages.error(request, "Type the group's name to confirm.")
        return redirect("environments:group", group=group)
    if not delete_unless_in_use(request, lambda: services.group_delete(group=target)):
        return redirect("environments:group", group=group)
    messages.success(request, f"Deleted security group {group}.")
    return redirect("environments:security_groups")


@login_required
def security_group_detail(request: HttpRequest, group: str) -> HttpResponse:
    require_admin(request)
    target = get_object_or_404(SecurityGroup, name=group)
    rights = forms.RightsForm(request.POST or None, initial={
        **{f: getattr(target, f) for f in forms.RightsForm.base_fields if f.startswith(
            ("can_", "is_"))},
        "deploy_environments": target.deploy_environments.all()})
    new_token = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rights" and rights.is_valid():
            services.group_set_rights(group=target, rights=rights.cleaned_data,
                                      deploy_environments=list(
                                          rights.cleaned_data["deploy_environments"]))
            messages.success(request, "Rights saved.")
        elif action == "add_member":
            user = get_user_model().objects.filter(
                username=request.POST.get("username", "")).first()
            if user is None:
                messages.error(request, "No such user.")
            else:
                target.members.add(user)
        elif action == "remove_member":
            target.members.remove(*get_user_model().objects.filter(
                username=request.POST.get("username", "")))
        elif action == "create_token" and request.POST.get("name"):
            _, new_token = token_create(group=target, name=request.POST["name"][:100],
                                        user=request.user)
        elif action == "revoke_token":
            token = ApiToken.objects.filter(group=target, prefix=request.POST.get("prefix")).first()
            if token is not None:
                token_revoke(token=token)
    return render(request, "environments/group_detail.html", {
        "group": target, "rights": rights, "new_token": new_token,
        "tokens": target.tokens.all(), "members": target.members.all()})


def _chosen_version(workflow: Workflow, raw: str | None) -> WorkflowVersion | None:
    """The published version a first deployment asked for (none: the latest published)."""
    if not raw or not raw.isdigit():
        return None
    return published_versions(workflow).filter(number=int(raw)).first()


@login_required
def workflow_promotion(request: HttpRequest, workflow: str) -> HttpResponse:
    """Pick source and target, see every check and the diff (dry run), then promote."""
    target_workflow = get_object_or_404(Workflow, name=workflow)
    if not user_has_workflow_right(request.user, target_workflow, "view"):  # type: ignore[arg-type]
        raise Http404("No such workflow")
    environments = list(Environment.objects.all())
    source = next((e for e in environments if e.name == request.POST.get(
        "source", request.GET.get("source", ""))), None)
    target = next((e for e in environments if e.name == request.POST.get(
        "target", request.GET.get("target", ""))), None)
    version = _chosen_version(target_workflow, request.POST.get("version"))
    plan = None
    status = 200
    if request.method == "POST" and target is not None:
        action = request.POST.get("action", "dry_run")
        try:
            if action == "rollback":
                plan = workflow_rollback(workflow=target_workflow, environment=target,
                                         user=request.user)
            else:
                plan = workflow_promote(workflow=target_workflow, source=source, target=target,
                                        user=request.user, dry_run=action != "promote",
                                        version=None if source else version)
            if action != "dry_run":
                messages.success(request, f"{target.name} now runs version "
                                          f"{plan.version.number}.")
                if url_has_allowed_host_and_scheme(next_url := request.POST.get("next", ""),
                                                   allowed_hosts={request.get_host()}):
                    return redirect(next_url)
        except PromotionRefused as refused:
            plan = refused.plan
            status = 409
            messages.error(request, "Nothing changed: " + " ".join(plan.failures))
    return render(request, "environments/promote.html", {
        "workflow": target_workflow, "environments": environments, "source": source,
        "target": target, "plan": plan, "version": version,
        "published": published_versions(target_workflow),
        "deployments": target_workflow.deployments.select_related("environment", "version"),
        "history": target_workflow.promotions.select_related(
            "source", "target", "version", "user")[:20],
    }, status=status)
