"""Edits of a draft's action tree and triggers, each validated whole before anything is written.

Positions are unique per (parent, slot) in the database and PostgreSQL checks unique
constraints row by row, so a renumbering first lifts the rows it touches above `LIFT`, then
writes their final positions: no intermediate state ever collides.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from workflows.actions import REGISTRY, get_action_type
from workflows.expressions import rename_in_value
from workflows.format_validation import check_trigger
from workflows.models import Action, Trigger, WorkflowVersion, step_name_validator
from workflows.triggers import REGISTRY as TRIGGER_TYPES

Errors = dict[str, list[str]]
LIFT = 1_000_000
RETRY_LIMITS = {"max_attempts": (1, 100), "backoff_seconds": (0, 86400),
                "max_backoff_seconds": (0, 2_592_000)}


class TreeError(ValidationError):
    """A structural edit that cannot be made (unknown slot, a block into itself, ...)."""


# --- placement --------------------------------------------------------------------------------


def _siblings(version: WorkflowVersion, parent_id: Any, slot: str) -> list[Any]:
    rows = Action.objects.filter(version=version, parent_id=parent_id, slot=slot)
    return list(rows.order_by("position").values_list("id", flat=True))


def _place(lists: list[tuple[Any, str, list[Any]]]) -> None:
    """Give each (parent, slot, ids) list positions 0..n in order, moving rows as needed."""
    everyone = [row_id for _, _, ids in lists for row_id in ids]
    for offset, row_id in enumerate(everyone):
        Action.objects.filter(id=row_id).update(position=LIFT + offset)
    for parent_id, slot, ids in lists:
        for position, row_id in enumerate(ids):
            Action.objects.filter(id=row_id).update(parent_id=parent_id, slot=slot,
                                                    position=position)


def _check_slot(version: WorkflowVersion, parent: Action | None, slot: str) -> None:
    version.ensure_editable()
    if parent is None:
        if slot:
            raise TreeError("a top-level block has no slot")
        return
    if parent.version_id != version.id:
        raise TreeError("the parent belongs to another version")
    if not get_action_type(parent.type).allows_slot(slot):
        allowed = ", ".join(get_action_type(parent.type).slots) or "named branches"
        raise TreeError(f"{parent.type} {parent.name} has no slot {slot!r} (slots: {allowed})")


def _free_name(version: WorkflowVersion, base: str, taken: set[str] | None = None) -> str:
    taken = taken if taken is not None else set(version.actions.values_list("name", flat=True))
    base = re.sub(r"[^a-z0-9_]", "_", base.lower())[:55] or "step"
    if base[0].isdigit():
        base = f"s_{base}"
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


# --- actions ----------------------------------------------------------------------------------


@transaction.atomic
def action_add(*, version: WorkflowVersion, type: str, parent: Action | None = None,  # noqa: A002
               slot: str = "", position: int | None = None) -> Action:
    """Insert a new, not yet configured block of `type` into a slot at `position`."""
    if type not in REGISTRY:
        raise TreeError(f"unknown action type {type!r}")
    _check_slot(version, parent, slot)
    parent_id = parent.id if parent else None
    ids = _siblings(version, parent_id, slot)
    position = len(ids) if position is None else max(0, min(position, len(ids)))
    action = Action.objects.create(version=version, parent=parent, slot=slot,
                                   position=LIFT * 2, type=type,
                                   name=_free_name(version, type))
    _place([(parent_id, slot, ids[:position] + [action.id] + ids[position:])])
    action.refresh_from_db()
    return action


def _number_or_error(raw: Any, field: str, low: float, high: float, errors: Errors,
                     *, strict_low: bool = False) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[field] = ["enter a number"]
        return None
    if value < low or value > high or (strict_low and value <= low):
        errors[field] = [f"use a number {'above' if strict_low else 'from'} {low} to {high}"]
    return value


def _retry_errors(retry: dict[str, Any], errors: Errors) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in retry.items():
        if key == "jitter":
            clean[key] = bool(value)
            continue
        if key not in RETRY_LIMITS:
            errors[f"retry.{key}"] = ["unknown retry setting"]
            continue
        low, high = RETRY_LIMITS[key]
        number = _number_or_error(value, f"retry.{key}", low, high, errors)
        if number is not None:
            clean[key] = int(number) if key == "max_attempts" else number
    return clean


@transaction.atomic
def action_update(*, action: Action, inputs: dict[str, Any], name: str | None = None,
                  description: str | None = None, retry: dict[str, Any] | None = None,
                  timeout_seconds: float | None = None,
                  continue_on_error: bool | None = None) -> Errors:
    """Validate everything with the type's own rules; save only when there is no problem.

    Errors are keyed by field: `name`, `timeout_seconds`, `retry.<key>`, `inputs.<path>`.
    """
    action.version.ensure_editable()
    errors: Errors = {}
    for path, message in get_action_type(action.type).validate_definition(inputs):
        errors.setdefault(f"inputs.{path}" if path else "inputs", []).append(message)
    if name is not None and name != action.name:
        try:
            step_name_validator(name)
            if action.version.actions.filter(name=name).exclude(id=action.id).exists():
                errors["name"] = [f"another block is already named {name!r}"]
        except ValidationError as exc:
            errors["name"] = list(exc.messages)
    clean_retry = _retry_errors(retry or {}, errors) if retry is not None else action.retry
    timeout = _number_or_error(timeout_seconds, "timeout_seconds", 0, 86400, errors,
                               strict_low=True)
    if errors:
        return errors
    if name is not None and name != action.name:
        inputs = rename_in_value(inputs, action.name, name)
        _rename_references(action, action.name, name)
    action.inputs = inputs
    action.name = name if name is not None else action.name
    action.description = description if description is not None else action.description
    action.retry = clean_retry
    action.timeout_seconds = timeout
    if continue_on_error is not None:
        action.continue_on_error = continue_on_error
    action.save()
    return {}


def _rename_references(action: Action, old: str, new: str) -> None:
    """Point every other block's `steps.<old>` (and revert inputs) at the new name."""
    for other in action.version.actions.exclude(id=action.id):
        inputs = rename_in_value(other.inputs, old, new)
        revert = rename_in_value(other.revert, old, new)
        if (inputs, revert) != (other.inputs, other.revert):
            Action.objects.filter(id=other.id).update(inputs=inputs, revert=revert)


def descendant_ids(action: Action) -> set[Any]:
    """Ids of every block below `action`, walked breadth first without recursion."""
    found: set[Any] = set()
    frontier = [action.id]
    while frontier:
        children = list(Action.objects.filter(parent_id__in=frontier).values_list("id", flat=True))
        found.update(children)
        frontier = children
    return found


@transaction.atomic
def action_move(*, action: Action, parent: Action | None, slot: str, position: int) -> Action:
    """Move a block (with its children) to `position` in `slot` of `parent` (None: top level)."""
    version = action.version
    _check_slot(version, parent, slot)
    if parent is not None and (parent.id == action.id or parent.id in descendant_ids(action)):
        raise TreeError(f"{action.name} cannot go inside itself")
    parent_id = parent.id if parent else None
    source = [i for i in _siblings(version, action.parent_id, action.slot) if i != action.id]
    if (parent_id, slot) == (action.parent_id, action.slot):
        target = source
        lists = []
    else:
        target = _siblings(version, parent_id, slot)
        lists = [(action.parent_id, action.slot, source)]
    position = max(0, min(position, len(target)))
    lists.append((parent_id, slot, target[:position] + [action.id] + target[position:]))
    _place(lists)
    action.refresh_from_db()
    return action


@transaction.atomic
def action_delete(*, action: Action) -> None:
    """Delete a block and everything inside it; its siblings close the gap."""
    action.version.ensure_editable()
    parent_id, slot, version = action.parent_id, action.slot, action.version
    action.delete()
    _place([(parent_id, slot, _siblings(version, parent_id, slot))])


@transaction.atomic
def action_duplicate(*, action: Action) -> Action:
    """A copy of the block and its subtree, right after it, with fresh unique names."""
    version = action.version
    version.ensure_editable()
    taken = set(version.actions.values_list("name", flat=True))

    def copy(source: Action, parent: Action | None, position: int) -> Action:
        name = _free_name(version, f"{source.name}_copy", taken)
        taken.add(name)
        clone = Action.objects.create(
            version=version, parent=parent, slot=source.slot, position=position,
            type=source.type, name=name, description=source.description,
            inputs=source.inputs, retry=source.retry, timeout_seconds=source.timeout_seconds,
            continue_on_error=source.continue_on_error, revert=source.revert)
        for child in source.children.order_by("slot", "position"):
            copy(child, clone, child.position)
        return clone

    ids = _siblings(version, action.parent_id, action.slot)
    clone = copy(action, action.parent, LIFT * 2)
    index = ids.index(action.id) + 1
    _place([(action.parent_id, action.slot, ids[:index] + [clone.id] + ids[index:])])
    clone.refresh_from_db()
    return clone


# --- triggers ---------------------------------------------------------------------------------


def _trigger_errors(version: WorkflowVersion, *, name: str, type_: str, settings: Any,
                    access: str, access_group: Any, exclude: Trigger | None = None) -> Errors:
    errors: Errors = {}
    try:
        step_name_validator(name)
    except ValidationError as exc:
        errors["name"] = list(exc.messages)
    others = version.triggers.filter(name=name)
    if exclude is not None:
        others = others.exclude(id=exclude.id)
    if others.exists():
        errors.setdefault("name", []).append(f"another trigger is already named {name!r}")
    if not isinstance(settings, dict):
        return {**errors, "settings": ["settings must be a JSON object"]}
    if access not in Trigger.Access.values:
        errors["access"] = [f"use one of {', '.join(Trigger.Access.values)}"]
    elif access == Trigger.Access.GROUP and access_group is None:
        errors["access_group"] = ["choose the security group whose members or tokens may call"]
    elif access == Trigger.Access.HMAC and not settings.get("hmac_secret_variable"):
        errors["access"] = ["set settings.hmac_secret_variable to the variable holding the secret"]
    document = {"name": name, "type": type_, "settings": settings,
                "access": {"mode": "public"}}
    for path, message in check_trigger(document, "trigger"):
        field = path.removeprefix("trigger.")
        errors.setdefault(field, []).append(message)
    return errors


@transaction.atomic
def trigger_add(*, version: WorkflowVersion, type: str, access: str | None = None,  # noqa: A002
                access_group: Any = None) -> tuple[Trigger | None, Errors]:
    """A trigger of `type` with working default settings (an HTTP one is group-protected)."""
    version.ensure_editable()
    if type not in TRIGGER_TYPES:
        return None, {"type": [f"unknown trigger type {type!r}"]}
    trigger_type = TRIGGER_TYPES[type]
    if access is None:
        access = trigger_type.default_access
    if access == Trigger.Access.GROUP and access_group is None:
        access_group = version.workflow.perimeters.order_by("name").first()
    taken = set(version.triggers.values_list("name", flat=True))
    name = next(f"{type}_{n}" for n in range(1, 1000) if f"{type}_{n}" not in taken)
    settings = trigger_type.default_settings()
    errors = _trigger_errors(version, name=name, type_=type, settings=settings, access=access,
                             access_group=access_group)
    for field in trigger_type.filled_in_later:  # named by the user in the next edit
        errors.pop(f"settings.{field}", None)
    if errors:
        return None, errors
    position = (version.triggers.order_by("-position").values_list("position", flat=True)
                .first() or 0) + 1
    trigger = Trigger.objects.create(version=version, name=name, type=type, settings=settings,
                                     access=access, access_group=access_group,
                                     position=position)
    return trigger, {}


def trigger_update(*, trigger: Trigger, name: str, settings: Any, access: str,
                   access_group: Any = None) -> Errors:
    """Validate with the import rules for that trigger type; save only when all is right."""
    trigger.version.ensure_editable()
    errors = _trigger_errors(trigger.version, name=name, type_=trigger.type, settings=settings,
                             access=access, access_group=access_group, exclude=trigger)
    if errors:
        return errors
    trigger.name, trigger.settings, trigger.access = name, settings, access
    trigger.access_group = access_group if access == Trigger.Access.GROUP else None
    trigger.save()
    return {}


def trigger_delete(*, trigger: Trigger) -> None:
    trigger.version.ensure_editable()
    trigger.delete()
