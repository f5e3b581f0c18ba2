"""Runs in the JSON API: start, list, get, cancel, retry, re-run, approve/reject, logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from access.api import ERRORS, ApiRequest, ErrorOut, error_body, principal_label, principal_user
from access.permissions import (
    WorkflowRight,
    principal_has_workflow_right,
    workflows_visible_to_principal,
)
from environments.models import Environment
from runner import selectors, services
from runner.models import Run, RunStatus, StepEvent
from runner.sealing import shown
from workflows.api import get_workflow
from workflows.models import Workflow

router = Router(tags=["runs"])


class RunIn(Schema):
    environment: str | None = Field(None, description="Environment name; default: none (test)")
    input: dict[str, Any] = Field(default_factory=dict, description="Available as trigger.body")
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="Version number; default: the deployed one")


class RunOut(Schema):
    id: UUID
    workflow: str
    version: int
    environment: str | None
    status: str
    status_reason: str
    trigger_type: str
    trigger_input: Any
    result: Any
    error: Any
    response: Any
    parent_run: UUID | None
    retry_of: UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StepOut(Schema):
    step_key: str
    action: str
    type: str
    status: str
    attempt: int
    inputs: Any
    output: Any
    error: Any
    at: datetime


class RunDetailOut(RunOut):
    steps: list[StepOut]


class LogLineOut(Schema):
    seq: int
    step: str
    level: str
    message: str
    time: str


class LogPageOut(Schema):
    lines: list[LogLineOut]
    next_after: int
    complete: bool


class RetryIn(Schema):
    latest_version: bool = False


class DecisionIn(Schema):
    step: str = Field(..., description="The step key of the waiting approval step")
    comment: str = ""


class DecisionOut(Schema):
    accepted: bool


def run_out(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow": run.workflow.name,
        "version": run.version.number,
        "environment": run.environment.name if run.environment is not None else None,
        "status": run.status,
        "status_reason": run.status_reason,
        "trigger_type": run.trigger_type,
        "trigger_input": run.trigger_input,
        "result": run.result,
        "error": run.error,
        "response": run.response,
        "parent_run": run.parent_run_id,
        "retry_of": run.retry_of_id,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def get_run(request: ApiRequest, run_id: UUID, right: WorkflowRight = "view") -> Run:
    run = Run.objects.select_related("workflow", "version", "environment").filter(id=run_id).first()
    if run is None or not principal_has_workflow_right(request.auth, run.workflow, "view"):
        raise Http404("No such run.")
    if not principal_has_workflow_right(request.auth, run.workflow, right):
        raise PermissionDenied(f"You may not {right} runs of {run.workflow.name}.")
    return run


@router.post("/workflows/{name}/runs", response={201: RunOut, **ERRORS}, summary="Start a run")
def start_run(request: ApiRequest, name: str, payload: RunIn) -> Status[dict[str, Any]]:
    workflow = get_workflow(request, name, "run")
    environment = None
    if payload.environment:
        environment = Environment.objects.filter(name=payload.environment).first()
        if environment is None:
            return Status(400, error_body("invalid", "Unknown environment.", [
                {"path": "environment", "message": f"no environment named {payload.environment}"}
            ]))
    version = None
    if payload.version is not None:
        version = workflow.versions.filter(number=payload.version).first()
        if version is None:
            return Status(400, error_body("invalid", "Unknown version.", [
                {"path": "version", "message": f"{name} has no version {payload.version}"}
            ]))
    try:
        run = services.run_start_manual(
            workflow=workflow, payload=payload.input, environment=environment, version=version,
            user=principal_user(request),
        )
    except services.InputRejected as exc:
        return Status(400, error_body("invalid_input", "The input does not match the manual "
                                      "trigger's schema.",
                                      [{**f, "path": f"input.{f['path']}"} for f in exc.fields]))
    return Status(201, run_out(run))


@router.get("/runs", response={200: list[RunOut], **ERRORS}, summary="List runs")
def list_runs(
    request: ApiRequest,
    workflow: str | None = None,
    environment: str | None = None,
    status: RunStatus | None = None,
    trigger_type: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict[str, Any]]:
    visible = workflows_visible_to_principal(request.auth, Workflow.objects.all())
    runs = Run.objects.filter(workflow__in=visible).select_related(
        "workflow", "version", "environment"
    )
    if workflow:
        runs = runs.filter(workflow__name=workflow)
    if environment:
        runs = runs.filter(environment__name=environment)
    if status:
        runs = runs.filter(status=status)
    if trigger_type:
        runs = runs.filter(trigger_type=trigger_type)
    return [run_out(run) for run in runs.order_by("-created_at")[offset : offset + limit]]


@router.get("/runs/{run_id}", response={200: RunDetailOut, **ERRORS}, summary="Get a run")
def get_run_detail(request: ApiRequest, run_id: UUID) -> dict[str, Any]:
    run = get_run(request, run_id)
    steps = [
        {
            "step_key": e.step_key, "action": e.action_name, "type": e.action_type,
            "status": e.status, "attempt": e.attempt, "inputs": shown(e.inputs),
            "output": shown(e.output), "error": e.error, "at": e.created_at,
        }
        for e in StepEvent.objects.filter(run=run).exclude(step_key="").order_by("id")
    ]
    return {**run_out(run), "steps": steps}


@router.get("/runs/{run_id}/logs", response={200: LogPageOut, **ERRORS}, summary="Log lines")
def get_logs(
    request: ApiRequest,
    run_id: UUID,
    after: int = Query(0, ge=0, le=2**62,
                       description="Return lines with a sequence number above this"),
    limit: int = Query(1000, ge=1, le=10000),
    step: str = Query("", max_length=500,
                      description="Only this step's lines, by step key (`loop.3/tick`)"),
    block: str = Query("", max_length=63,
                       description="Only the lines of the block of this name, every "
                                   "iteration and branch it ran in"),
) -> dict[str, Any]:
    run = get_run(request, run_id)
    lines = selectors.log_lines_after(str(run.id), after, limit, step=step, block=block)
    next_after = lines[-1]["seq"] if lines else after
    return {"lines": lines, "next_after": next_after,
            "complete": run.is_finished and len(lines) < limit}


@router.post("/runs/{run_id}/cancel", response={200: RunOut, 409: ErrorOut, **ERRORS},
             summary="Cancel a run",
             description="200: the run is cancelled, or will stop within seconds (a run whose "
                         "last step is under way ends cancelled all the same). 409: it had "
                         "already finished.")
def cancel_run(request: ApiRequest, run_id: UUID) -> dict[str, Any] | Status[dict[str, Any]]:
    run = get_run(request, run_id, "run")
    if not services.run_cancel(run=run, requested_by=principal_label(request)):
        run.refresh_from_db()
        return Status(409, error_body("already_finished",
                                      f"The run has already finished ({run.status})."))
    run.refresh_from_db()
    return run_out(run)


@router.post("/runs/{run_id}/retry", response={201: RunOut, **ERRORS},
             summary="Retry from the failed step")
def retry_run(request: ApiRequest, run_id: UUID, payload: RetryIn) -> Status[dict[str, Any]]:
    run = get_run(request, run_id, "run")
    new_run = services.run_retry(run=run, latest_version=payload.latest_version)
    return Status(201, run_out(new_run))


@router.post("/runs/{run_id}/rerun", response={201: RunOut, **ERRORS},
             summary="Run again with the same input")
def rerun_run(request: ApiRequest, run_id: UUID) -> Status[dict[str, Any]]:
    run = get_run(request, run_id, "run")
    return Status(201, run_out(services.run_rerun(run=run)))


def _decide(
    request: ApiRequest, run_id: UUID, payload: DecisionIn, approve: bool
) -> dict[str, bool]:
    run = get_run(request, run_id, "approve")
    user = principal_user(request)
    if user is None:
        raise PermissionDenied("Approvals are made by people: log in to approve or reject.")
    accepted = services.run_decide(
        run=run, step_key=payload.step, user=user, approve=approve, comment=payload.comment
    )
    return {"accepted": accepted}


@router.post("/runs/{run_id}/approve", response={200: DecisionOut, **ERRORS},
             summary="Approve a waiting approval step")
def approve_run(request: ApiRequest, run_id: UUID, payload: DecisionIn) -> dict[str, bool]:
    return _decide(request, run_id, payload, True)


@router.post("/runs/{run_id}/reject", response={200: DecisionOut, **ERRORS},
             summary="Reject a waiting approval step")
def reject_run(request: ApiRequest, run_id: UUID, payload: DecisionIn) -> dict[str, bool]:
    return _decide(request, run_id, payload, False)
