"""Build published workflow versions from compact nested specs, for engine tests."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from workflows.models import Action, Workflow, WorkflowVersion


def publish_workflow(name: str, actions: list[dict[str, Any]], **workflow_fields: Any):
    """Create a workflow with one published version holding `actions`.

    Each spec is {"name", "type", "inputs", "children": {slot: [specs]}, ...error policy}.
    """
    workflow, _ = Workflow.objects.get_or_create(name=name, defaults=workflow_fields)
    number = workflow.versions.count() + 1
    version = WorkflowVersion.objects.create(workflow=workflow, number=number)
    _create(version, actions, parent=None, slot="")
    WorkflowVersion.objects.filter(id=version.id).update(
        status=WorkflowVersion.Status.PUBLISHED, published_at=timezone.now()
    )
    version.refresh_from_db()
    return workflow, version


def _create(version, specs, *, parent, slot) -> None:
    for position, spec in enumerate(specs):
        action = Action.objects.create(
            version=version,
            parent=parent,
            slot=slot,
            position=position,
            name=spec["name"],
            type=spec["type"],
            inputs=spec.get("inputs", {}),
            retry=spec.get("retry", {}),
            timeout_seconds=spec.get("timeout"),
            continue_on_error=spec.get("continue_on_error", False),
            revert=spec.get("revert"),
        )
        for child_slot, children in spec.get("children", {}).items():
            _create(version, children, parent=action, slot=child_slot)
