"""Workflows in the JSON API: list, get, activate, versions, publish, diff, export and import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from environments.models import SecurityGroup
from environments.permissions import (
    is_administrator,
    principal_has_workflow_right,
    workflows_visible_to_principal,
)
from owlgrid_site.api import ERRORS, error_body, principal_user
from workflows.diff import documents_diff
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


def get_workflow(request: HttpRequest, name: str, right: str = "view") -> Workflow:
    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None or not principal_has_workflow_right(request.auth, workflow, "view"):
        raise Http404("No such workflow.")
    if not principal_has_workflow_right(request.auth, workflow, right):
        raise PermissionDenied(f"You may not {right} {workflow.name}.")
    return workflow


def get_version(workflow: Workflow, number: int) -> WorkflowVersion:
    version = workflow.versions.filter(number=number).first() if 1 <= number <= MAX_NUMBER else None
    if version is None:
        raise Http404(f"{workflow.name} has no version {number}.")
    return version


@router.get("/workflows", response={200: list[WorkflowOut], **ERRORS})
def list_workflows(request: HttpRequest, search: str = "", tag: str = "",
                   active: bool | None = None):
    workflows = workflows_visible_to_principal(request.auth, Workflow.objects.all())
    if search:
        workflows = workflows.filter(name__icontains=search)
    if active is not None:
        workflows = workflows.filter(active=active)
    return [workflow_out(w) for w in workflows.order_by("name") if not tag or tag in w.tags]


@router.post("/workflows/import", response={201: VersionOut, **ERRORS},
             summary="Import a workflow document as a draft (or published) version")
def import_document(request: HttpRequest, payload: ImportIn):
    name = str(payload.document.get("name", ""))
    existing = Workflow.objects.filter(name=name).first()
    if existing is not None:
        get_workflow(request, name, "edit")
    elif isinstance(request.auth, SecurityGroup):
        if not (request.auth.is_admin or request.auth.can_edit):
            raise PermissionDenied("This token may not create workflows.")
    elif not is_administrator(request.auth):
        raise PermissionDenied("Only administrators create workflows.")
    try:
        version = workflow_import(document=payload.document, user=principal_user(request),
                                  publish=payload.publish, note=payload.note)
    except ImportErrors as errors:
        return Status(400, error_body("invalid_document", "The document has problems.", [
            {"path": path, "message": message} for path, message in errors.problems]))
    if existing is None and isinstance(request.auth, SecurityGroup):
        version.workflow.perimeters.add(request.auth)
    return Status(201, version_out(version))


@router.get("/workflows/{name}", response={200: WorkflowOut, **ERRORS})
def get_one(request: HttpRequest, name: str):
    return workflow_out(get_workflow(request, name))


@router.post("/workflows/{name}/active", response={200: WorkflowOut, **ERRORS},
             summary="Activate or deactivate (an inactive workflow cannot be triggered)")
def set_active(request: HttpRequest, name: str, payload: ActiveIn):
    workflow = get_workflow(request, name, "edit")
    Workflow.objects.filter(id=workflow.id).update(active=payload.active,
                                                   updated_at=timezone.now())
    workflow.refresh_from_db()
    return workflow_out(workflow)


@router.get("/workflows/{name}/versions", response={200: list[VersionOut], **ERRORS})
def list_versions(request: HttpRequest, name: str):
    workflow = get_workflow(request, name)
    return [version_out(v) for v in workflow.versions.select_related("author").order_by(
        "-number")]


@router.get("/workflows/{name}/versions/{number}", response={200: dict, **ERRORS},
            summary="A version as a workflow document")
def get_version_document(request: HttpRequest, name: str, number: int):
    return version_document(get_version(get_workflow(request, name), number))


@router.post("/workflows/{name}/versions/{number}/publish", response={200: VersionOut, **ERRORS},
             summary="Publish the draft: it becomes immutable")
def publish(request: HttpRequest, name: str, number: int, payload: PublishIn):
    workflow = get_workflow(request, name, "edit")
    with transaction.atomic():
        version = get_version(workflow, number)
        if version.is_published:
            return Status(400, error_body("already_published",
                                          f"Version {number} is already published."))
        WorkflowVersion.objects.filter(id=version.id).update(
            status=WorkflowVersion.Status.PUBLISHED, published_at=timezone.now(),
            note=payload.note if payload.note is not None else version.note)
    version.refresh_from_db()
    return version_out(version)


@router.get("/workflows/{name}/diff", response={200: dict, **ERRORS},
            summary="What changed from version a to version b")
def diff(request: HttpRequest, name: str, a: int = Query(..., ge=1, le=MAX_NUMBER),
         b: int = Query(..., ge=1, le=MAX_NUMBER)):
    workflow = get_workflow(request, name)
    return documents_diff(version_document(get_version(workflow, a)),
                          version_document(get_version(workflow, b)))
