"""The workflow JSON format (docs/workflow-format.md): export and import of one version.

Export is canonical (fixed key order, every field written) so that
`workflow_export(workflow_import(doc)) == doc` for any canonical document. Import validates the
whole document first and writes nothing unless everything is right.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from workflows.actions import get_action_type
from workflows.expressions import referenced_names
from workflows.format_validation import ImportErrors, check_document, parse_document
from workflows.models import Action, Trigger, Workflow, WorkflowVersion

FORMAT = "owlgrid.workflow/v1"
__all__ = ["FORMAT", "ImportErrors", "workflow_export", "workflow_import", "version_document"]


# --- export -----------------------------------------------------------------------------------


def workflow_export(*, workflow: Workflow, number: int | None = None) -> dict[str, Any]:
    """The document of version `number` (default: the latest) of a workflow."""
    versions = workflow.versions.order_by("-number")
    version = versions.filter(number=number).first() if number else versions.first()
    if version is None:
        raise WorkflowVersion.DoesNotExist(f"{workflow.name} has no version {number or ''}")
    return version_document(version)


def version_document(version: WorkflowVersion) -> dict[str, Any]:
    workflow = version.workflow
    actions = export_actions(version)
    return {
        "format": FORMAT,
        "name": workflow.name,
        "description": workflow.description,
        "tags": list(workflow.tags or []),
        "active": workflow.active,
        "concurrency_limit": workflow.concurrency_limit,
        "note": version.note,
        "requires": requirements(version.requires or {}, actions),
        "triggers": [export_trigger(t) for t in version.triggers.order_by("position")],
        "actions": actions,
    }


def export_trigger(trigger: Trigger) -> dict[str, Any]:
    settings = dict(trigger.settings or {})
    access: dict[str, Any] = {"mode": trigger.access}
    if trigger.access == Trigger.Access.GROUP:
        access["group"] = trigger.access_group.name if trigger.access_group else None
    elif trigger.access == Trigger.Access.HMAC:
        access["secret_variable"] = settings.pop("hmac_secret_variable", "")
    return {"name": trigger.name, "type": trigger.type, "settings": settings, "access": access}


def export_actions(version: WorkflowVersion) -> list[dict[str, Any]]:
    by_parent: dict[Any, list[Action]] = {}
    for action in version.actions.order_by("slot", "position"):
        by_parent.setdefault(action.parent_id, []).append(action)

    def build(parent_id: Any) -> list[dict[str, Any]]:
        return [export_action(a, build_slots(a)) for a in by_parent.get(parent_id, [])]

    def build_slots(action: Action) -> dict[str, list]:
        slots: dict[str, list] = {}
        for child in by_parent.get(action.id, []):
            slots.setdefault(child.slot, []).append(export_action(child, build_slots(child)))
        return slots

    return build(None)


def export_action(action: Action, slots: dict[str, list]) -> dict[str, Any]:
    return {
        "name": action.name,
        "type": action.type,
        "description": action.description,
        "inputs": action.inputs,
        "retry": action.retry or {},
        "timeout_seconds": action.timeout_seconds,
        "continue_on_error": action.continue_on_error,
        "revert": action.revert,
        "children": ordered_slots(action.type, slots),
    }


def ordered_slots(type_name: str, slots: dict[str, list]) -> dict[str, list]:
    """Declared slots in their declared order (then, else); free-named slots alphabetically."""
    declared = get_action_type(type_name).slots
    names = [s for s in declared if s in slots] + sorted(s for s in slots if s not in declared)
    return {name: slots[name] for name in names}


def requirements(declared: dict[str, list], actions: list[dict]) -> dict[str, list[str]]:
    variables = set(declared.get("variables", []))
    connections = set(declared.get("connections", []))
    for action in walk(actions):
        for value in strings_in(action.get("inputs", {})):
            variables.update(name for scope, name in referenced_names(value) if scope == "env")
        connection = (action.get("inputs") or {}).get("connection")
        if isinstance(connection, str) and "{" not in connection:
            connections.add(connection)
    return {"variables": sorted(variables), "connections": sorted(connections)}


def walk(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for action in actions:
        yield action
        for children in (action.get("children") or {}).values():
            yield from walk(children)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


# --- import -----------------------------------------------------------------------------------


def workflow_import(
    *,
    document: bytes | str | dict,
    user: Any = None,
    publish: bool = False,
    note: str | None = None,
    perimeters: list | None = None,
) -> WorkflowVersion:
    """Validate then store the document as the workflow's draft (published on request).

    `perimeters` are given to a workflow the import creates (an existing one keeps its own).
    Raises ImportErrors listing every problem with its JSON path; nothing is written then.
    """
    parsed = parse_document(document)
    problems = check_document(parsed)
    if problems:
        raise ImportErrors(problems)
    return _write(parsed, user=user, publish=publish, note=note, perimeters=perimeters)


@transaction.atomic
def _write(document: dict, *, user: Any, publish: bool, note: str | None,
           perimeters: list | None = None) -> WorkflowVersion:
    workflow, created = Workflow.objects.select_for_update().get_or_create(
        name=document["name"])
    if created and perimeters:
        workflow.perimeters.set(perimeters)
    workflow.description = document.get("description", "")
    workflow.tags = document.get("tags", [])
    workflow.active = document.get("active", True)
    workflow.concurrency_limit = document.get("concurrency_limit")
    if workflow.created_by is None and getattr(user, "is_authenticated", False):
        workflow.created_by = user
    workflow.save()
    version = _fresh_draft(workflow, user)
    version.note = note if note is not None else document.get("note", "")
    version.requires = document.get("requires", {})
    version.save()
    for position, trigger in enumerate(document.get("triggers", [])):
        _create_trigger(version, trigger, position)
    _create_actions(version, document.get("actions", []), parent=None, slot="")
    if publish:
        WorkflowVersion.objects.filter(id=version.id).update(
            status=WorkflowVersion.Status.PUBLISHED, published_at=timezone.now()
        )
        version.refresh_from_db()
    return version


def _fresh_draft(workflow: Workflow, user: Any) -> WorkflowVersion:
    """The workflow's draft, emptied, or a new one numbered after the latest version."""
    author = user if getattr(user, "is_authenticated", False) else None
    draft = workflow.versions.filter(status=WorkflowVersion.Status.DRAFT).first()
    if draft is not None:
        draft.actions.filter(parent__isnull=True).delete()
        draft.triggers.all().delete()
        draft.author = author
        return draft
    latest = workflow.versions.order_by("-number").values_list("number", flat=True).first()
    return WorkflowVersion.objects.create(workflow=workflow, number=(latest or 0) + 1,
                                          author=author)


def _create_trigger(version: WorkflowVersion, trigger: dict, position: int) -> None:
    from access.models import SecurityGroup

    access = trigger.get("access") or {"mode": "public"}
    settings = dict(trigger.get("settings") or {})
    group = None
    if access["mode"] == "group":
        group = SecurityGroup.objects.get(name=access["group"])
    if access["mode"] == "hmac":
        settings["hmac_secret_variable"] = access["secret_variable"]
    Trigger.objects.create(version=version, name=trigger["name"], type=trigger["type"],
                           settings=settings, access=access["mode"], access_group=group,
                           position=position)


def _create_actions(version: WorkflowVersion, actions: list[dict], *, parent: Action | None,
                    slot: str) -> None:
    for position, spec in enumerate(actions):
        action = Action.objects.create(
            version=version, parent=parent, slot=slot, position=position,
            name=spec["name"], type=spec["type"], description=spec.get("description", ""),
            inputs=spec.get("inputs", {}), retry=spec.get("retry", {}),
            timeout_seconds=spec.get("timeout_seconds"),
            continue_on_error=spec.get("continue_on_error", False), revert=spec.get("revert"),
        )
        for child_slot, children in (spec.get("children") or {}).items():
            _create_actions(version, children, parent=action, slot=child_slot)
