"""Workflows in the JSON API: create, list, get, change, duplicate, delete, activate; versions
(get, publish, restore, diff); export and import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from access.api import ERRORS, ApiRequest, ErrorOut, conflict, error_body, principal_user
from access.models import SecurityGroup
from access.permissions import (
    WorkflowRight,
    creator_perimeters,
    principal_has_workflow_right,
    workflows_visible_to_principal,
)
from workflows import services
from workflows.format import ImportErrors, version_document, workflow_import
from workflows.models import Workflow, WorkflowVersion

router = Router(tags=["workflows"])
MAX_NUMBER = 2**31 - 1  # the database's integer range


class DeploymentOut(Schema):
    environment: str
    version: int


class WorkflowOut(Schema):
    name: str
    description: str
    tags: list[str]
    active: bool
    concurrency_limit: int | None
    latest_version: int | None
    deployments: list[DeploymentOut]
    updated_at: datetime


class VersionOut(Schema):
    number: int
    status: str
    note: str
    author: str | None
    created_at: datetime
    published_at: datetime | None


class WorkflowIn(Schema):
    name: str = Field(..., max_length=100)
    description: str = Field("", max_length=10000)
    tags: list[str] = Field(default_factory=list, max_length=50)


class WorkflowChangeIn(Schema):
    """Only the fields given change; `perimeters` are security group names."""

    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=10000)
    tags: list[str] | None = Field(None, max_length=50)
    concurrency_limit: int | None = Field(None, ge=1, le=MAX_NUMBER)
    unlimited_concurrency: bool = Field(False, description="Remove the concurrency limit")
    perimeters: list[str] | None = Field(None, max_length=100)


class DuplicateIn(Schema):
    name: str = Field(..., max_length=100)


class ActiveIn(Schema):
    active: bool


class PublishIn(Schema):
    note: str | None = Field(None, max_length=10000)


class ImportIn(Schema):
    document: dict[str, Any] = Field(..., description="A workflow document "
                                     "(docs/workflow-format.md)")
    publish: bool = False
    note: str | None = Field(None, max_length=10000)


def workflow_out(workflow: Workflow) -> dict[str, Any]:
    latest = workflow.versions.order_by("-number").values_list("number", flat=True).first()
    return {
        "name": workflow.name, "description": workflow.description,
        "tags": list(workflow.tags or []), "active": workflow.active,
        "concurrency_limit": workflow.concurrency_limit, "latest_version": latest,
        "deployments": [{"environment": d.environment.name, "version": d.version.number}
                        for d in workflow.deployments.select_related("environment", "version")],
        "updated_at": workflow.updated_at,
    }


def version_out(version: WorkflowVersion) -> dict[str, Any]:
    return {"number": version.number, "status": version.status, "note": version.note,
            "author": version.author.get_username() if version.author else None,
            "created_at": version.created_at, "published_at": version.published_at}


def get_workflow(request: ApiRequest, name: str, right: WorkflowRight = "view") -> Workflow:
    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None or not principal_has_workflow_right(request.auth, workflow, "view"):
        raise Http404("No such workflow.")
    if not principal_has_workflow_right(request.auth, workflow, right):
        raise PermissionDenied(f"You may not {right} {workflow.name}.")
    return workflow


def refused(errors: dict[str, list[str]]) -> Status[dict[str, Any]]:
    """A service's {field: [messages]} as the API's 400 body."""
    return Status(400, error_body("invalid", "Some fields are invalid.", [
        {"path": field, "message": " ".join(messages)} for field, messages in errors.items()]))


def get_version(workflow: Workflow, number: int) -> WorkflowVersion:
    version = workflow.versions.filter(number=number).first() if 1 <= number <= MAX_NUMBER else None
    if version is None:
        raise Http404(f"{workflow.name} has no version {number}.")
    return version


@router.get("/workflows", response={200: list[WorkflowOut], **ERRORS})
def list_workflows(request: ApiRequest, search: str = "", tag: str = "",
                   active: bool | None = None, environment: str = "") -> list[dict[str, Any]]:
    workflows = workflows_visible_to_principal(request.auth, Workflow.objects.all())
    if search:
        workflows = workflows.filter(name__icontains=search)
    if environment:
        workflows = workflows.filter(deployments__environment__name=environment).distinct()
    if active is not None:
        workflows = workflows.filter(active=active)
    return [workflow_out(w) for w in workflows.order_by("name") if not tag or tag in w.tags]


@router.post("/workflows/import", response={201: VersionOut, **ERRORS},
             summary="Import a workflow document as a draft (or published) version")
def import_document(request: ApiRequest, payload: ImportIn) -> Status[dict[str, Any]]:
    name = str(payload.document.get("name", ""))
    existing = Workflow.objects.filter(name=name).first()
    perimeters = []
    if existing is not None:
        get_workflow(request, name, "edit")
    else:
        perimeters = creator_perimeters(request.auth)
    try:
        version = workflow_import(document=payload.document, user=principal_user(request),
                                  publish=payload.publish, note=payload.note)
    except ImportErrors as errors:
        return Status(400, error_body(
            "invalid_document", f"The document has {errors.total} problem(s)"
            + (f"; the first {len(errors.problems)} are listed." if errors.total >
               len(errors.problems) else "."),
            [{"path": path, "message": message} for path, message in errors.problems]))
    if existing is None:
        version.workflow.perimeters.add(*perimeters)
    return Status(201, version_out(version))


@router.post("/workflows", response={201: WorkflowOut, **ERRORS},
             summary="Create a workflow with an empty draft version 1")
def create(request: ApiRequest, payload: WorkflowIn) -> Status[dict[str, Any]]:
    perimeters = creator_perimeters(request.auth)
    workflow, errors = services.workflow_create(
        name=payload.name, description=payload.description, tags=payload.tags,
        user=principal_user(request), perimeters=perimeters)
    if workflow is None:
        return refused(errors)
    return Status(201, workflow_out(workflow))


@router.get("/workflows/{name}", response={200: WorkflowOut, **ERRORS})
def get_one(request: ApiRequest, name: str) -> dict[str, Any]:
    return workflow_out(get_workflow(request, name))


@router.patch("/workflows/{name}", response={200: WorkflowOut, **ERRORS},
              summary="Change name, description, tags, concurrency limit or perimeters")
def change(
    request: ApiRequest, name: str, payload: WorkflowChangeIn
) -> dict[str, Any] | Status[dict[str, Any]]:
    workflow = get_workflow(request, name, "edit")
    perimeters = list(workflow.perimeters.all())
    if payload.perimeters is not None:
        perimeters = list(SecurityGroup.objects.filter(name__in=payload.perimeters))
        if unknown := sorted(set(payload.perimeters) - {g.name for g in perimeters}):
            return refused({"perimeters": [f"no security group named {', '.join(unknown)}"]})
    limit = workflow.concurrency_limit
    if payload.unlimited_concurrency:
        limit = None
    elif payload.concurrency_limit is not None:
        limit = payload.concurrency_limit
    errors = services.workflow_update_settings(
        workflow=workflow, name=payload.name if payload.name is not None else workflow.name,
        description=payload.description if payload.description is not None
        else workflow.description,
        tags=payload.tags if payload.tags is not None else list(workflow.tags or []),
        perimeters=perimeters, concurrency_limit=limit)
    if errors:
        return refused(errors)
    return workflow_out(workflow)


@router.delete("/workflows/{name}", response={204: None, 409: ErrorOut, **ERRORS},
               summary="Delete a workflow with its versions and runs (refused while deployed)")
def delete(request: ApiRequest, name: str) -> Status[dict[str, Any]] | Status[None]:
    workflow = get_workflow(request, name, "edit")
    try:
        services.workflow_delete(workflow=workflow)
    except services.EditRefused as exc:
        return conflict(exc)
    return Status(204, None)


@router.post("/workflows/{name}/duplicate", response={201: WorkflowOut, **ERRORS},
             summary="A new workflow whose draft is a copy of this one's latest version")
def duplicate(request: ApiRequest, name: str, payload: DuplicateIn) -> Status[dict[str, Any]]:
    workflow = get_workflow(request, name, "edit")
    creator_perimeters(request.auth)
    copy, errors = services.workflow_duplicate(workflow=workflow, name=payload.name,
                                               user=principal_user(request))
    if copy is None:
        return refused(errors)
    return Status(201, workflow_out(copy))


@router.post("/workflows/{name}/active", response={200: WorkflowOut, **ERRORS},
             summary="Activate or deactivate (an inactive workflow cannot be triggered)")
def set_active(request: ApiRequest, name: str, payload: ActiveIn) -> dict[str, Any]:
    workflow = get_workflow(request, name, "edit")
    return workflow_out(services.workflow_set_active(workflow=workflow, active=payload.active))


@router.get("/workflows/{name}/versions", response={200: list[VersionOut], **ERRORS})
def list_versions(request: ApiRequest, name: str) -> list[dict[str, Any]]:
    workflow = get_workflow(request, name)
    return [version_out(v) for v in workflow.versions.select_related("author").order_by(
        "-number")]


@router.get("/workflows/{name}/versions/{number}", response={200: dict, **ERRORS},
            summary="A version as a workflow document")
def get_version_document(request: ApiRequest, name: str, number: int) -> dict[str, Any]:
    return version_document(get_version(get_workflow(request, name), number))


@router.post("/workflows/{name}/versions/{number}/publish", response={200: VersionOut, **ERRORS},
             summary="Publish the draft: it becomes immutable (refused while it is invalid)")
def publish(
    request: ApiRequest, name: str, number: int, payload: PublishIn
) -> dict[str, Any] | Status[dict[str, Any]]:
    workflow = get_workflow(request, name, "edit")
    version = get_version(workflow, number)
    if version.is_published:
        return Status(400, error_body("already_published",
                                      f"Version {number} is already published."))
    problems = services.version_problems_in_words(version)
    if problems:
        return Status(400, error_body("invalid_document", "The draft has problems.", [
            {"path": path, "where": place, "message": message}
            for path, place, message in problems]))
    try:
        version = services.version_publish(
            version=version, user=principal_user(request),
            note=payload.note if payload.note is not None else version.note)
    except services.EditRefused as exc:  # published meanwhile by someone else
        return Status(400, error_body("already_published", " ".join(exc.messages)))
    return version_out(version)


@router.post("/workflows/{name}/versions/{number}/restore", response={201: VersionOut, **ERRORS},
             summary="Make this version's actions and triggers the draft's")
def restore(request: ApiRequest, name: str, number: int) -> Status[dict[str, Any]]:
    workflow = get_workflow(request, name, "edit")
    source = get_version(workflow, number)
    draft = services.version_restore(workflow=workflow, number=source.number,
                                     user=principal_user(request))
    return Status(201, version_out(draft))


@router.get("/workflows/{name}/diff", response={200: dict, **ERRORS},
            summary="What changed from version a to version b")
def diff(request: ApiRequest, name: str, a: int = Query(..., ge=1, le=MAX_NUMBER),
         b: int = Query(..., ge=1, le=MAX_NUMBER)) -> dict[str, Any]:
    workflow = get_workflow(request, name)
    return services.version_diff(a=get_version(workflow, a), b=get_version(workflow, b))
