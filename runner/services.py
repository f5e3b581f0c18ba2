"""Run control: start, cancel, retry, re-run, approve/reject. Writes go through the journal."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from access.permissions import WorkflowRight, user_has_workflow_right
from environments.models import Deployment, Environment
from runner import journal
from runner.models import Run, RunStatus, StepEvent
from runner.plan import PlanError, compile_plan
from workflows.models import Trigger, Workflow, WorkflowVersion
from workflows.trigger_input import body_problems, input_schema


def resolve_version(*, workflow: Workflow, environment: Environment | None) -> WorkflowVersion:
    """The version live in the environment, else the latest published one."""
    if environment is not None:
        deployment = Deployment.objects.filter(workflow=workflow, environment=environment).first()
        if deployment is not None:
            return deployment.version
        raise ValidationError(f"workflow {workflow.name} is not deployed in {environment.name}")
    version = (
        workflow.versions.filter(status=WorkflowVersion.Status.PUBLISHED).order_by("-number").first()
    )
    if version is None:
        raise ValidationError(f"workflow {workflow.name} has no published version")
    return version


def run_start(
    *,
    workflow: Workflow,
    trigger_type: str,
    trigger_input: Any = None,
    environment: Environment | None = None,
    version: WorkflowVersion | None = None,
    trigger: Trigger | None = None,
    user: Any = None,
    parent_run: Run | None = None,
    retry_of: Run | None = None,
    is_test: bool = False,
    run_id: uuid.UUID | None = None,
) -> Run:
    """Create a run pinned to a version and queue it for a worker; an invalid plan fails the
    run at once."""
    version = version or resolve_version(workflow=workflow, environment=environment)
    fields: dict[str, Any] = {
        "workflow": workflow,
        "version": version,
        "environment": environment,
        "trigger": trigger,
        "trigger_type": trigger_type,
        "trigger_input": trigger_input if trigger_input is not None else {},
        "started_by": user if getattr(user, "is_authenticated", False) else None,
        "parent_run": parent_run,
        "retry_of": retry_of,
        "depth": parent_run.depth + 1 if parent_run else 0,
        "is_test": is_test,
    }
    if run_id is not None:
        fields["id"] = run_id
    try:
        fields["plan"] = compile_plan(version)
    except PlanError as exc:
        with transaction.atomic():
            run = Run.objects.create(status=RunStatus.QUEUED, **fields)
            journal.fail_without_lease(run, {
                "type": "invalid_plan", "message": str(exc), "retryable": False,
                "problems": exc.problems,
            })
        return run
    return journal.create_run(**fields)


class InputRejected(ValidationError):
    """A payload that fails the trigger's JSON Schema; `fields` lists every failing path."""

    def __init__(self, fields: list[dict[str, str]]):
        super().__init__("; ".join(f"{f['path']}: {f['message']}" for f in fields))
        self.fields = fields


def run_start_manual(*, workflow: Workflow, payload: Any, environment: Environment | None = None,
                     version: WorkflowVersion | None = None, user: Any = None) -> Run:
    """A run started by hand (page or API); the payload must pass the manual trigger's schema."""
    version = version or resolve_version(workflow=workflow, environment=environment)
    fields = body_problems(input_schema(version, Trigger.Type.MANUAL), payload)
    if fields:
        raise InputRejected(fields)
    return run_start(workflow=workflow, version=version, environment=environment,
                     trigger_type="manual", trigger_input={"body": payload}, user=user)


@transaction.atomic
def test_run_start(*, workflow: Workflow, sample: Any, user: Any = None) -> Run:
    """Run what the editor shows (the draft, else the latest version) in the first
    environment of the chain, as a test.

    The sample is kept with the workflow (for the next test and the editor's hints); the run
    is queued once both are committed.
    """
    from workflows.selectors import latest_version
    from workflows.services import draft_get_or_create, workflow_set_test_sample

    version = latest_version(workflow) or draft_get_or_create(workflow=workflow, user=user)
    workflow_set_test_sample(workflow=workflow, sample=sample)
    environment = Environment.objects.order_by("position").first()
    return run_start(workflow=workflow, version=version, environment=environment,
                     trigger_type="manual", trigger_input={"body": sample}, user=user,
                     is_test=True)


def run_start_child(*, parent: Run, workflow_name: str, payload: Any, run_id: uuid.UUID) -> Run:
    from workflows.actions.base import ActionError

    workflow = Workflow.objects.filter(name=workflow_name).first()
    if workflow is None:
        raise ActionError(f"no workflow named {workflow_name!r}", kind="unknown_workflow")
    try:
        version = resolve_version(workflow=workflow, environment=parent.environment)
    except ValidationError as exc:
        raise ActionError(" ".join(exc.messages), kind="not_deployed") from None
    fields = body_problems(input_schema(version, Trigger.Type.WORKFLOW), payload)
    if fields:
        details = "; ".join(f"{f['path']}: {f['message']}" for f in fields)
        raise ActionError(f"payload rejected by {workflow_name}: {details}",
                          kind="invalid_input", fields=fields)
    return run_start(
        version=version,
        workflow=workflow,
        # Its `workflow` trigger (if it declares one) also checks the result it hands back.
        trigger=version.triggers.filter(type=Trigger.Type.WORKFLOW).order_by("position").first(),
        trigger_type="workflow",
        trigger_input={"body": payload, "parent_run": str(parent.id)},
        environment=parent.environment,
        parent_run=parent,
        run_id=run_id,
        is_test=parent.is_test,
    )


def _require(user: Any, run: Run, right: WorkflowRight) -> None:
    if user is not None and not user_has_workflow_right(user, run.workflow, right):
        raise PermissionDenied(f"you may not {right} runs of {run.workflow.name}")


def run_cancel(*, run: Run, user: Any = None, requested_by: str = "") -> bool:
    """Ask the run to stop; False when it had already ended (nothing was asked).
    `requested_by` names an API token's caller; a signed-in user is named by `user`."""
    _require(user, run, "run")
    return journal.request_cancel(run, by=requested_by or getattr(user, "username", ""))


def run_rerun(*, run: Run, user: Any = None) -> Run:
    """Start the same version again with the same input."""
    _require(user, run, "run")
    return run_start(
        workflow=run.workflow,
        trigger_type=run.trigger_type,
        trigger_input=run.trigger_input,
        environment=run.environment,
        version=run.version,
        user=user,
        is_test=run.is_test,
    )


@transaction.atomic
def run_retry(*, run: Run, user: Any = None, latest_version: bool = False) -> Run:
    """A new run that reuses the completed steps of a failed run and resumes at the failure."""
    _require(user, run, "run")
    if run.status not in {RunStatus.FAILED, RunStatus.CANCELLED}:
        raise ValidationError("only a failed or cancelled run can be retried")
    version = run.version
    if latest_version:
        version = resolve_version(workflow=run.workflow, environment=run.environment)
    new_run = run_start(
        workflow=run.workflow,
        trigger_type=run.trigger_type,
        trigger_input=run.trigger_input,
        environment=run.environment,
        version=version,
        user=user,
        retry_of=run,
        is_test=run.is_test,
    )
    journal.copy_completed_steps(source=run, target=new_run)
    return new_run


def run_decide(
    *, run: Run, step_key: str, user: Any, approve: bool, comment: str = ""
) -> bool:
    """Approve or reject a waiting approval step; only members of its group may. Acts once."""
    latest = StepEvent.objects.filter(run=run, step_key=step_key).order_by("-id").first()
    if latest is None or latest.action_type != "approval":
        raise ValidationError(f"no approval step {step_key!r} in this run")
    group = (latest.inputs or {}).get("group")
    if not user.is_authenticated or not user.security_groups.filter(name=group).exists():
        raise PermissionDenied(f"only members of {group} may decide this approval")
    decision = {
        "decision": "approve" if approve else "reject",
        "by": user.get_username(),
        "comment": comment,
    }
    return journal.record_decision(run.id, step_key, decision)
