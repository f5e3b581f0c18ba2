"""Compile a pinned workflow version into an immutable plan, validated once at run start."""

from __future__ import annotations

from typing import Any

from workflows.actions import UnknownActionType, get_action_type
from workflows.models import WorkflowVersion


class PlanError(ValueError):
    """A version that cannot run; `problems` name the action and the field."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


_PUBLISHED_PLANS: dict[Any, dict[str, Any]] = {}
_CACHE_LIMIT = 512


def compile_plan(version: WorkflowVersion) -> dict[str, Any]:
    """Return {"root": [names], "actions": {name: node}}; raise PlanError if anything is wrong.

    A published version never changes, so its plan is compiled once per process.
    """
    if not version.is_published:
        return _compile(version)
    plan = _PUBLISHED_PLANS.get(version.id)
    if plan is None:
        plan = _compile(version)
        if len(_PUBLISHED_PLANS) >= _CACHE_LIMIT:
            _PUBLISHED_PLANS.clear()
        _PUBLISHED_PLANS[version.id] = plan
    return plan


def _compile(version: WorkflowVersion) -> dict[str, Any]:
    actions = list(version.actions.order_by("parent_id", "slot", "position"))
    by_id = {action.id: action for action in actions}
    nodes: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for action in actions:
        nodes[action.name] = _node(action)
        problems.extend(_check_action(action, by_id))
    root: list[str] = []
    for action in sorted(actions, key=lambda a: (a.slot, a.position)):
        if action.parent_id is None:
            root.append(action.name)
        else:
            parent = nodes[by_id[action.parent_id].name]
            parent["children"].setdefault(action.slot, []).append(action.name)
    if problems:
        raise PlanError(problems)
    return {"version": str(version.id), "root": root, "actions": nodes}


def _node(action: Any) -> dict[str, Any]:
    return {
        "name": action.name,
        "type": action.type,
        "inputs": action.inputs,
        "retry": action.retry or {},
        "timeout": action.timeout_seconds,
        "continue_on_error": action.continue_on_error,
        "revert": action.revert,
        "children": {},
    }


def _check_action(action: Any, by_id: dict) -> list[str]:
    try:
        action_type = get_action_type(action.type)
    except UnknownActionType as exc:
        return [f"action {action.name}: {exc.args[0]}"]
    problems = [
        f"action {action.name}, field {path or 'inputs'}: {message}"
        for path, message in action_type.validate_definition(action.inputs)
    ]
    if action.parent_id is not None:
        parent_type = get_action_type(by_id[action.parent_id].type)
        if not parent_type.allows_slot(action.slot):
            problems.append(
                f"action {action.name}: slot {action.slot!r} does not exist on "
                f"{parent_type.name} {by_id[action.parent_id].name}"
            )
    return problems


def descendants(plan: dict[str, Any], name: str) -> set[str]:
    """Names of every action below `name` in the tree."""
    found: set[str] = set()
    stack = [name]
    while stack:
        for children in plan["actions"][stack.pop()]["children"].values():
            found.update(children)
            stack.extend(children)
    return found
