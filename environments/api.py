"""Environments in the JSON API: the chain, variables (secrets write-only), connections (secrets
write-only, with their live check), promotion with its checks (dry run and apply) and rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from access.api import ERRORS, ErrorOut, conflict, error_body, principal_user
from access.models import SecurityGroup
from access.permissions import is_administrator, principal_has_workflow_right
from environments import services
from environments.forms import KIND_FIELDS, ConnectionForm
from environments.models import Connection, Environment, Variable
from environments.promotion import PromotionRefused, workflow_promote, workflow_rollback
from workflows.models import Workflow

router = Router(tags=["environments"])


class EnvironmentOut(Schema):
    name: str
    label: str
    position: int
    expression_time_limit_ms: int | None = Field(
        None, description="Time budget of each expression render here (ms); null: the default")
    expression_size_limit: int | None = Field(
        None, description="Largest string or list an expression may build here; null: the "
                          "default")


class EnvironmentIn(Schema):
    name: str = Field(..., max_length=63)
    label: str = Field("", max_length=100)


class EnvironmentChangeIn(Schema):
    label: str | None = Field(None, min_length=1, max_length=100)
    move: Literal["up", "down"] | None = Field(None, description="Swap with the neighbour "
                                               "before (up) or after (down) in the chain")
    expression_time_limit_ms: int | None = Field(None, ge=0, description="0: the default")
    expression_size_limit: int | None = Field(None, ge=0, description="0: the default")


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
    secrets_set: list[str] = Field(..., description="Secret fields that hold a value (never "
                                   "the values)")
    last_test_ok: bool | None
    last_test_message: str
    last_tested_at: datetime | None


class ConnectionIn(Schema):
    kind: Literal["http", "smtp", "slack"]
    config: dict[str, str | int | bool] = Field(
        default_factory=dict, description="http: base_url, auth_type, username, header_name, "
        "health_path; smtp: host, port, username, from_email, use_tls, use_ssl; slack: api_base")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Write-only. http: token, password, header_value; "
        "smtp: password; slack: webhook_url, bot_token. A secret left out keeps its value.")


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


class PromotionRecordOut(Schema):
    kind: str = Field(..., description="deploy, promote or rollback")
    version: int
    previous_version: int | None
    source: str | None
    target: str
    user: str | None
    checks: list[CheckOut]
    created_at: datetime


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


@router.post("/environments", response={201: EnvironmentOut, **ERRORS},
             summary="Add an environment at the end of the promotion chain")
def create_environment(request: HttpRequest, payload: EnvironmentIn):
    require_admin(request)
    return Status(201, services.environment_create(name=payload.name, label=payload.label))


@router.patch("/environments/{name}", response={200: EnvironmentOut, **ERRORS},
              summary="Relabel an environment, move it along the chain or set its expression "
                      "budgets")
def change_environment(request: HttpRequest, name: str, payload: EnvironmentChangeIn):
    require_admin(request)
    environment = get_environment(name)
    if payload.label is not None:
        services.environment_relabel(environment=environment, label=payload.label)
    if payload.move is not None:
        services.environment_move(environment=environment, up=payload.move == "up")
    if payload.expression_time_limit_ms is not None or payload.expression_size_limit is not None:
        services.environment_set_expression_limits(
            environment=environment, time_limit_ms=payload.expression_time_limit_ms,
            size_limit=payload.expression_size_limit)
    environment.refresh_from_db()
    return environment


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


@router.delete("/environments/{name}/variables/{variable}",
               response={204: None, 409: ErrorOut, **ERRORS},
               summary="Delete a variable (refused while a deployed version needs it)")
def delete_variable(request: HttpRequest, name: str, variable: str):
    require_admin(request)
    target = Variable.objects.filter(environment=get_environment(name), name=variable).first()
    if target is None:
        raise Http404(f"No variable named {variable}.")
    try:
        services.variable_delete(variable=target)
    except services.InUse as exc:
        return conflict(exc)
    return Status(204, None)


def connection_out(connection: Connection) -> dict[str, Any]:
    return {"name": connection.name, "kind": connection.kind, "config": connection.config,
            "secrets_set": services.connection_secret_names(connection),
            "last_test_ok": connection.last_test_ok,
            "last_test_message": connection.last_test_message,
            "last_tested_at": connection.last_tested_at}


def get_connection(environment: str, name: str) -> Connection:
    connection = Connection.objects.filter(environment=get_environment(environment),
                                           name=name).first()
    if connection is None:
        raise Http404(f"No connection named {name} in {environment}.")
    return connection


def validated_connection_form(connection: str, payload: ConnectionIn,
                              ) -> tuple[ConnectionForm | None, list[dict[str, str]]]:
    """The connection form filled from the request, or the fields it refuses with their paths
    in the request body."""
    plain, secret = KIND_FIELDS[payload.kind]
    fields = [{"path": f"config.{key}", "message": f"not a setting of a {payload.kind} "
               f"connection (use one of {', '.join(plain)})"} for key in payload.config
              if key not in plain]
    fields += [{"path": f"secrets.{key}", "message": f"not a secret of a {payload.kind} "
                f"connection (use one of {', '.join(secret)})"} for key in payload.secrets
               if key not in secret]
    if fields:
        return None, fields
    form = ConnectionForm({"name": connection, "kind": payload.kind, **payload.config,
                           **payload.secrets})
    if form.is_valid():
        return form, []
    places = {**{f: f"config.{f}" for f in plain}, **{f: f"secrets.{f}" for f in secret}}
    return None, [{"path": places.get(field, field), "message": " ".join(messages)}
                  for field, messages in form.errors.items()]


@router.get("/environments/{name}/connections", response={200: list[ConnectionOut], **ERRORS})
def list_connections(request: HttpRequest, name: str):
    return [connection_out(c) for c in Connection.objects.filter(
        environment=get_environment(name))]


@router.get("/environments/{name}/connections/{connection}",
            response={200: ConnectionOut, **ERRORS})
def get_one_connection(request: HttpRequest, name: str, connection: str):
    return connection_out(get_connection(name, connection))


@router.put("/environments/{name}/connections/{connection}",
            response={200: ConnectionOut, **ERRORS},
            summary="Create or replace a connection (secrets are write-only)")
def put_connection(request: HttpRequest, name: str, connection: str, payload: ConnectionIn):
    require_admin(request)
    environment = get_environment(name)
    form, problems = validated_connection_form(connection, payload)
    if form is None:
        return Status(400, error_body("invalid", "Some fields are invalid.", problems))
    saved = services.connection_save(environment=environment, name=connection,
                                     kind=payload.kind, config=form.config(),
                                     secret_values=form.secret_values())
    return connection_out(saved)


@router.delete("/environments/{name}/connections/{connection}",
               response={204: None, 409: ErrorOut, **ERRORS},
               summary="Delete a connection (refused while a deployed version needs it)")
def delete_connection(request: HttpRequest, name: str, connection: str):
    require_admin(request)
    try:
        services.connection_delete(connection=get_connection(name, connection))
    except services.InUse as exc:
        return conflict(exc)
    return Status(204, None)


@router.post("/environments/{name}/connections/{connection}/test",
             response={200: ConnectionTestOut, **ERRORS}, summary="Check a connection for real")
def test_connection(request: HttpRequest, name: str, connection: str):
    require_admin(request)
    ok, message = services.connection_test(connection=get_connection(name, connection))
    return {"ok": ok, "message": message}


class PromotionRefusedOut(ErrorOut):
    plan: PromotionOut = Field(..., description="Every check (passed or not) and the diff")


def plan_out(plan) -> dict[str, Any]:
    return {"ok": plan.ok, "version": plan.version.number if plan.version else None,
            "target": plan.target.name, "checks": [c.as_dict() for c in plan.checks],
            "diff": plan.diff}


def refused_plan(plan) -> Status:
    """A refused promotion in the one error format: each failing check is a field."""
    failing = [c for c in plan.checks if not c.ok]
    body = error_body("promotion_refused", "The promotion's checks failed.", [
        {"path": f"checks.{c.name}", "message": c.message} for c in failing])
    return Status(409, {**body, "plan": plan_out(plan)})


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


@router.post("/workflows/{name}/promote", response={200: PromotionOut,
                                                    409: PromotionRefusedOut, **ERRORS},
             summary="Promote (or dry-run) the source's version to the target")
def promote(request: HttpRequest, name: str, payload: PromotionIn):
    workflow = get_workflow(request, name)
    source = get_environment(payload.source) if payload.source else None
    try:
        plan = workflow_promote(workflow=workflow, source=source,
                                target=get_environment(payload.target),
                                user=acting_user(request), dry_run=payload.dry_run)
    except PromotionRefused as refused:
        return refused_plan(refused.plan)
    return plan_out(plan)


@router.get("/workflows/{name}/promotions", response={200: list[PromotionRecordOut], **ERRORS},
            summary="Deployment and promotion history, newest first")
def promotion_history(request: HttpRequest, name: str, limit: int = Query(100, ge=1, le=1000)):
    workflow = get_workflow(request, name)
    records = workflow.promotions.select_related(
        "source", "target", "version", "previous_version", "user")[:limit]
    return [{"kind": r.kind, "version": r.version.number,
             "previous_version": r.previous_version.number if r.previous_version else None,
             "source": r.source.name if r.source else None, "target": r.target.name,
             "user": r.user.username if r.user else None, "checks": r.checks,
             "created_at": r.created_at} for r in records]


@router.post("/workflows/{name}/rollback", response={200: PromotionOut,
                                                     409: PromotionRefusedOut, **ERRORS},
             summary="Re-deploy the environment's previous version")
def rollback(request: HttpRequest, name: str, payload: RollbackIn):
    workflow = get_workflow(request, name)
    try:
        plan = workflow_rollback(workflow=workflow, environment=get_environment(
            payload.environment), user=acting_user(request), dry_run=payload.dry_run)
    except PromotionRefused as refused:
        return refused_plan(refused.plan)
    return plan_out(plan) if plan.ok else refused_plan(plan)

