"""Environments in the JSON API: the chain, variables (secrets write-only), connections (with
their live check), promotion with its checks (dry run and apply) and rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from environments import services
from environments.models import Connection, Environment, SecurityGroup, Variable
from environments.permissions import is_administrator, principal_has_workflow_right
from environments.promotion import PromotionRefused, workflow_promote, workflow_rollback
from owlgrid_site.api import ERRORS, principal_user
from workflows.models import Workflow

router = Router(tags=["environments"])


class EnvironmentOut(Schema):
    name: str
    label: str
    position: int


class VariableOut(Schema):
    name: str
    is_secret: bool
    value: str | None = Field(None, description="Never returned for secrets")
    updated_at: datetime


class VariableIn(Schema):
    value: str = Field(..., max_length=100_000)
    is_secret: bool = False


class ConnectionOut(Schema):
    name: str
    kind: str
    config: dict[str, Any]
    last_test_ok: bool | None
    last_test_message: str
    last_tested_at: datetime | None


class ConnectionTestOut(Schema):
    ok: bool
    message: str


class PromotionIn(Schema):
    source: str | None = Field(None, description="Environment the version comes from")
    target: str
    dry_run: bool = False


class RollbackIn(Schema):
    environment: str
    dry_run: bool = False


class CheckOut(Schema):
    check: str
    ok: bool
    message: str


class PromotionOut(Schema):
    ok: bool
    version: int | None
    target: str
    checks: list[CheckOut]
    diff: dict[str, Any]


def require_admin(request: HttpRequest) -> None:
    auth = request.auth
    allowed = auth.is_admin if isinstance(auth, SecurityGroup) else is_administrator(auth)
    if not allowed:
        raise PermissionDenied("Only administrators change environments.")


def get_environment(name: str) -> Environment:
    environment = Environment.objects.filter(name=name).first()
    if environment is None:
        raise Http404(f"No environment named {name}.")
    return environment


@router.get("/environments", response={200: list[EnvironmentOut], **ERRORS})
def list_environments(request: HttpRequest):
    return list(Environment.objects.all())


@router.get("/environments/{name}/variables", response={200: list[VariableOut], **ERRORS})
def list_variables(request: HttpRequest, name: str):
    environment = get_environment(name)
    return [{"name": v.name, "is_secret": v.is_secret,
             "value": None if v.is_secret else v.value, "updated_at": v.updated_at}
            for v in Variable.objects.filter(environment=environment)]


@router.put("/environments/{name}/variables/{variable}", response={200: VariableOut, **ERRORS},
            summary="Set a variable (a secret is write-only)")
def put_variable(request: HttpRequest, name: str, variable: str, payload: VariableIn):
    require_admin(request)
    saved = services.variable_set(environment=get_environment(name), name=variable,
                                  value=payload.value, is_secret=payload.is_secret)
    return {"name": saved.name, "is_secret": saved.is_secret,
            "value": None if saved.is_secret else saved.value, "updated_at": saved.updated_at}


@router.delete("/environments/{name}/variables/{variable}", response={204: None, **ERRORS})
def delete_variable(request: HttpRequest, name: str, variable: str):
    require_admin(request)
    deleted, _ = Variable.objects.filter(environment=get_environment(name),
                                         name=variable).delete()
    if not deleted:
        raise Http404(f"No variable named {variable}.")
    return Status(204, None)


@router.get("/environments/{name}/connections", response={200: list[ConnectionOut], **ERRORS})
def list_connections(request: HttpRequest, name: str):
    return list(Connection.objects.filter(environment=get_environment(name)))


@router.post("/environments/{name}/connections/{connection}/test",
             response={200: ConnectionTestOut, **ERRORS}, summary="Check a connection for real")
def test_connection(request: HttpRequest, name: str, connection: str):
    require_admin(request)
    target = Connection.objects.filter(environment=get_environment(name), name=connection).first()
    if target is None:
        raise Http404(f"No connection named {connection}.")
    ok, message = services.connection_test(connection=target)
    return {"ok": ok, "message": message}


def plan_out(plan) -> dict[str, Any]:
    return {"ok": plan.ok, "version": plan.version.number if plan.version else None,
            "target": plan.target.name, "checks": [c.as_dict() for c in plan.checks],
            "diff": plan.diff}


def get_workflow(request: HttpRequest, name: str) -> Workflow:
    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None or not principal_has_workflow_right(request.auth, workflow, "view"):
        raise Http404("No such workflow.")
    return workflow


def acting_user(request: HttpRequest) -> Any:
    user = principal_user(request)
    if user is None:
        raise PermissionDenied("Promotions are made by people: log in to promote.")
    return user


@router.post("/workflows/{name}/promote", response={200: PromotionOut, 409: PromotionOut,
                                                    **ERRORS},
             summary="Promote (or dry-run) the source's version to the target")
def promote(request: HttpRequest, name: str, payload: PromotionIn):
    workflow = get_workflow(request, name)
    source = get_environment(payload.source) if payload.source else None
    try:
        plan = workflow_promote(workflow=workflow, source=source,
                                target=get_environment(payload.target),
                                user=acting_user(request), dry_run=payload.dry_run)
    except PromotionRefused as refused:
        return Status(409, plan_out(refused.plan))
    return plan_out(plan)


@router.post("/workflows/{name}/rollback", response={200: PromotionOut, 409: PromotionOut,
                                                     **ERRORS},
             summary="Re-deploy the environment's previous version")
def rollback(request: HttpRequest, name: str, payload: RollbackIn):
    workflow = get_workflow(request, name)
    try:
        plan = workflow_rollback(workflow=workflow, environment=get_environment(
            payload.environment), user=acting_user(request), dry_run=payload.dry_run)
    except PromotionRefused as refused:
        return Status(409, plan_out(refused.plan))
    return Status(200 if plan.ok else 409, plan_out(plan))

