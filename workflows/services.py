"""Writes on workflows and their versions: create, duplicate, delete, settings, drafts, publish.

Edits of the action tree and of triggers live in `workflows.tree_services` and are re-exported
here, so callers import every write from one place. Every service validates before it writes
and writes nothing when something is wrong: problems come back as {field: [messages]}.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from workflows.diff import documents_diff, translated, tree_diff
from workflows.format import version_document
from workflows.format_validation import check_document, where
from workflows.models import (
    Action,
    Trigger,
    Workflow,
    WorkflowVersion,
    reserved_name_validator,
    workflow_name_validator,
)
from workflows.tree_services import (
    Errors,
    action_add,
    action_delete,
    action_duplicate,
    action_move,
    action_update,
    trigger_add,
    trigger_delete,
    trigger_update,
)

__all__ = [
    "EditRefused", "Errors", "action_add", "action_delete", "action_duplicate", "action_move",
    "action_update", "draft_get_or_create", "trigger_add", "trigger_delete", "trigger_update",
    "version_diff", "version_publish", "version_restore", "workflow_create", "workflow_delete",
    "workflow_duplicate", "workflow_set_active", "workflow_set_test_sample",
    "workflow_update_settings",
]


class EditRefused(ValidationError):
    """A write refused as a whole (publish of an invalid tree, delete of a deployed workflow)."""


def _author(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def _name_errors(name: str, *, exclude: Workflow | None = None) -> list[str]:
    try:
        workflow_name_validator(name)
        reserved_name_validator(name)
    except ValidationError as exc:
        return list(exc.messages)
    taken = Workflow.objects.filter(name=name)
    if exclude is not None:
        taken = taken.exclude(id=exclude.id)
    # The same words whether the holder is visible to the caller or not: a name's existence
    # outside one's perimeter is not for telling.
    return [f"the name {name!r} is not available"] if taken.exists() else []


def _tag_errors(tags: list[str]) -> list[str]:
    if len(tags) > 50 or any(not 1 <= len(tag) <= 50 for tag in tags):
        return ["use at most 50 tags of 1 to 50 characters"]
    return []


@transaction.atomic
def workflow_create(*, name: str, user: Any = None, description: str = "",
                    tags: list[str] | None = None, perimeters: list | None = None,
                    ) -> tuple[Workflow | None, Errors]:
    """A new workflow with an empty draft v1; perimeters say who may see and edit it."""
    errors: Errors = {}
    if problems := _name_errors(name):
        errors["name"] = problems
    if problems := _tag_errors(tags or []):
        errors["tags"] = problems
    if errors:
        return None, errors
    workflow = Workflow.objects.create(name=name, description=description,
                                       tags=list(dict.fromkeys(tags or [])),
                                       created_by=_author(user))
    workflow.perimeters.set(perimeters or [])
    WorkflowVersion.objects.create(workflow=workflow, number=1, author=_author(user))
    return workflow, {}


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, name: str, user: Any = None,
                       ) -> tuple[Workflow | None, Errors]:
    """A new workflow whose draft v1 is a copy of the source's latest version."""
    copy, errors = workflow_create(name=name, user=user, description=workflow.description,
                                   tags=list(workflow.tags or []),
                                   perimeters=list(workflow.perimeters.all()))
    if copy is None:
        return None, errors
    copy.concurrency_limit = workflow.concurrency_limit
    copy.test_sample = workflow.test_sample
    copy.save(update_fields=["concurrency_limit", "test_sample"])
    source = workflow.versions.order_by("-number").first()
    if source is not None:
        _copy_contents(source, copy.versions.get())
    return copy, {}


def workflow_delete(*, workflow: Workflow) -> None:
    """Delete a workflow with its versions and runs; refused while it is deployed."""
    if workflow.deployments.exists():
        raise EditRefused(f"{workflow.name} is deployed; roll back its deployments first.")
    try:
        with transaction.atomic():
            workflow.delete()
    except IntegrityError as exc:  # promotions audit rows keep their version
        raise EditRefused(f"{workflow.name} cannot be deleted: {exc}") from None


def workflow_set_active(*, workflow: Workflow, active: bool) -> Workflow:
    """An inactive workflow keeps its versions and deployments but cannot be triggered."""
    Workflow.objects.filter(id=workflow.id).update(active=active, updated_at=timezone.now())
    workflow.refresh_from_db()
    return workflow


def workflow_set_test_sample(*, workflow: Workflow, sample: Any) -> Workflow:
    """Keep the editor's sample input with the workflow, for its next test run and hints."""
    Workflow.objects.filter(id=workflow.id).update(test_sample=sample)
    workflow.test_sample = sample
    return workflow


def workflow_update_settings(*, workflow: Workflow, name: str, description: str,
                             tags: list[str], perimeters: list,
                             concurrency_limit: int | None = None) -> Errors:
    """Name, description, tags, perimeters and concurrency; nothing is saved on any error."""
    errors: Errors = {}
    if problems := _name_errors(name, exclude=workflow):
        errors["name"] = problems
    if problems := _tag_errors(tags):
        errors["tags"] = problems
    if concurrency_limit is not None and concurrency_limit < 1:
        errors["concurrency_limit"] = ["use a positive number, or leave empty for no limit"]
    if errors:
        return errors
    with transaction.atomic():
        workflow.name, workflow.description = name, description
        workflow.tags = list(dict.fromkeys(tags))
        workflow.concurrency_limit = concurrency_limit
        workflow.save()
        workflow.perimeters.set(perimeters)
    return {}


@transaction.atomic
def draft_get_or_create(*, workflow: Workflow, user: Any = None) -> WorkflowVersion:
    """The workflow's draft; a new one copies the latest version's actions and triggers."""
    Workflow.objects.select_for_update().filter(id=workflow.id).first()  # one draft at a time
    draft = workflow.versions.filter(status=WorkflowVersion.Status.DRAFT).first()
    if draft is not None:
        return draft
    latest = workflow.versions.order_by("-number").first()
    draft = WorkflowVersion.objects.create(
        workflow=workflow, number=(latest.number if latest else 0) + 1, author=_author(user),
        requires=latest.requires if latest else {})
    if latest is not None:
        _copy_contents(latest, draft)
    return draft


def version_problems(version: WorkflowVersion) -> list[tuple[str, str]]:
    """Everything that would stop this version from running, with its document path."""
    return check_document(version_document(version))


def version_problems_in_words(version: WorkflowVersion) -> list[tuple[str, str, str]]:
    """(path, where in the user's words, message) for each problem of the version."""
    document = version_document(version)
    return [(path, where(document, path), message) for path, message in check_document(document)]


@transaction.atomic
def version_publish(*, version: WorkflowVersion, user: Any = None,
                    note: str = "") -> WorkflowVersion:
    """Freeze the draft; refused (nothing written) while any action or trigger is invalid."""
    version = WorkflowVersion.objects.select_for_update().get(id=version.id)
    if version.is_published:
        raise EditRefused(f"version {version.number} is already published")
    problems = version_problems_in_words(version)
    if problems:
        raise EditRefused([f"{place}: {message}" for _, place, message in problems])
    WorkflowVersion.objects.filter(id=version.id).update(
        status=WorkflowVersion.Status.PUBLISHED, published_at=timezone.now(), note=note,
        author=_author(user) or version.author)
    version.refresh_from_db()
    return version


@transaction.atomic
def version_restore(*, workflow: Workflow, number: int, user: Any = None) -> WorkflowVersion:
    """Make version `number`'s actions and triggers the draft's (a new draft if none)."""
    source = workflow.versions.get(number=number)
    draft = draft_get_or_create(workflow=workflow, user=user)
    if draft.id == source.id:
        return draft
    draft.actions.filter(parent__isnull=True).delete()
    draft.triggers.all().delete()
    _copy_contents(source, draft)
    WorkflowVersion.objects.filter(id=draft.id).update(
        requires=source.requires, note=f"restored from version {number}",
        updated_at=timezone.now())
    draft.refresh_from_db()
    return draft


def version_diff(*, a: WorkflowVersion, b: WorkflowVersion) -> dict[str, Any]:
    """What changed from `a` to `b`: added, removed, changed (with before/after), moved."""
    old, new = version_document(a), version_document(b)
    diff = documents_diff(old, new)
    old = translated(old, {was: now for now, was in diff["renamed"].items()})
    before, after = _inputs_by_name(old["actions"]), _inputs_by_name(new["actions"])
    diff["details"] = {
        name: [
            {"field": key, "before": before[name].get(key), "after": after[name].get(key)}
            for key in sorted(set(before[name]) | set(after[name]))
            if before[name].get(key) != after[name].get(key)
        ]
        for name in diff["changed"]
    }
    diff["tree"] = tree_diff(old, new, diff)
    diff["settings"] = [
        {"field": field, "before": old.get(field), "after": new.get(field)}
        for field in ("description", "tags", "concurrency_limit", "requires")
        if old.get(field) != new.get(field)
    ]
    return diff


def _inputs_by_name(actions: list[dict]) -> dict[str, dict]:
    from workflows.format import walk

    return {
        action["name"]: {
            **{f"inputs.{k}": v for k, v in (action.get("inputs") or {}).items()},
            **{k: action.get(k) for k in ("type", "description", "retry", "timeout_seconds",
                                          "continue_on_error", "revert")},
        }
        for action in walk(actions)
    }


def _copy_contents(source: WorkflowVersion, target: WorkflowVersion) -> None:
    """Copy every trigger and action (parents before children) from one version to another."""
    for trigger in source.triggers.order_by("position"):
        Trigger.objects.create(version=target, name=trigger.name, type=trigger.type,
                               settings=trigger.settings, access=trigger.access,
                               access_group=trigger.access_group, position=trigger.position)
    copies: dict[Any, Action] = {}
    pending = list(source.actions.all())
    while pending:
        ready = [a for a in pending if a.parent_id is None or a.parent_id in copies]
        for action in ready:
            copies[action.id] = Action.objects.create(
                version=target, parent=copies.get(action.parent_id), slot=action.slot,
                position=action.position, type=action.type, name=action.name,
                description=action.description, inputs=action.inputs, retry=action.retry,
                timeout_seconds=action.timeout_seconds,
                continue_on_error=action.continue_on_error, revert=action.revert)
        pending = [a for a in pending if a.id not in copies]
