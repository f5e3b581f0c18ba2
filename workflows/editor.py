"""Reads for the editor: the tree as display nodes, and what an expression may use at a point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.actions import REGISTRY, get_action_type
from workflows.environment_chain import variable_names
from workflows.models import Action, Trigger, Workflow, WorkflowVersion
from workflows.triggers import REGISTRY as TRIGGER_TYPES
from workflows.triggers import Starter, get_trigger_type, trigger_choices

PALETTE_ORDER = ("structural", "data", "resource")


@dataclass
class Node:
    """One block as the editor shows it: its type's look, summary, problems and slots."""

    action: Action
    icon: str
    label: str
    summary: str
    problems: list[str]
    slots: list[tuple[str, list[Node]]] = field(default_factory=list)
    dynamic_slots: bool = False
    warnings: list[str] = field(default_factory=list)


def palette() -> list[tuple[str, list[Any]]]:
    """Action types grouped by category, for the insert menus."""
    groups: dict[str, list[Any]] = {}
    for action_type in REGISTRY.values():
        groups.setdefault(action_type.category, []).append(action_type)
    return [(c, groups[c]) for c in PALETTE_ORDER if c in groups]


def trigger_menu() -> list[tuple[str, str]]:
    """The trigger types a draft may add, (name, label), in registry order."""
    return trigger_choices()


def trigger_starter(workflow: Workflow, trigger: Trigger) -> Starter:
    """What the trigger's card shows about how its runs start (URLs, next fire times)."""
    return get_trigger_type(trigger.type).starter(workflow, trigger)


def editor_tree(version: WorkflowVersion) -> list[Node]:
    """The version's blocks, nested; every declared slot is present even when empty."""
    by_parent: dict[Any, list[Action]] = {}
    for action in version.actions.order_by("position"):
        by_parent.setdefault(action.parent_id, []).append(action)

    unanswered = respond_goes_nowhere(version)

    def build(action: Action) -> Node:
        action_type = get_action_type(action.type)
        children: dict[str, list[Node]] = {}
        for child in by_parent.get(action.id, []):
            children.setdefault(child.slot, []).append(build(child))
        names = list(action_type.slots) + sorted(s for s in children if s not in
                                                 action_type.slots)
        problems = [f"{path or 'inputs'}: {message}" if path else message
                    for path, message in action_type.validate_definition(action.inputs)]
        return Node(action=action, icon=action_type.icon, label=action_type.label,
                    summary=action_type.summary(action.inputs)[:120], problems=problems,
                    slots=[(name, children.get(name, [])) for name in names],
                    dynamic_slots=action_type.dynamic_slots,
                    warnings=[unanswered] if unanswered and action.type == "respond" else [])

    return [build(action) for action in by_parent.get(None, [])]


def respond_goes_nowhere(version: WorkflowVersion) -> str:
    """Why a `respond` block of this version answers no one, or "": its HTTP triggers are all
    asynchronous, so their callers get 202 before any answer."""
    http = [t for t in version.triggers.all() if t.type == "http"]
    if not http or any((t.settings or {}).get("mode", "async") == "sync" for t in http):
        return ""
    names = ", ".join(repr(t.name) for t in http)
    return (f"answers no one: the HTTP trigger {names} is asynchronous, its caller gets 202 at "
            "once; set its mode to sync to send this answer")


def version_warnings(version: WorkflowVersion) -> list[str]:
    """What will not work as the user probably means, without stopping a publish."""
    reason = respond_goes_nowhere(version)
    return [f"block {a.name!r} (Respond) {reason}"
            for a in version.actions.filter(type="respond")] if reason else []


def _schema_fields(schema: dict[str, Any], prefix: str, depth: int = 0) -> list[str]:
    found = []
    for key, sub in (schema.get("properties") or {}).items():
        found.append(f"{prefix}.{key}")
        if isinstance(sub, dict) and depth < 2:
            found.extend(_schema_fields(sub, f"{prefix}.{key}", depth + 1))
    return found


def _sample_fields(sample: Any, prefix: str, depth: int = 0) -> list[str]:
    if not isinstance(sample, dict) or depth > 2:
        return []
    found = []
    for key, value in sample.items():
        found.append(f"{prefix}.{key}")
        found.extend(_sample_fields(value, f"{prefix}.{key}", depth + 1))
    return found


def trigger_suggestions(version: WorkflowVersion, sample: Any = None) -> list[str]:
    """Fields of `trigger`: each trigger type's own, those of the triggers' JSON Schemas, else
    those of the sample input."""
    found: list[str] = ["trigger.body"]
    for trigger in version.triggers.all():
        schema = (trigger.settings or {}).get("json_schema")
        if isinstance(schema, dict):
            found.extend(_schema_fields(schema, "trigger.body"))
        trigger_type = TRIGGER_TYPES.get(trigger.type)
        if trigger_type is not None:
            found.extend(trigger_type.input_fields)
    if len(found) == 1:
        found.extend(_sample_fields(sample, "trigger.body"))
    return list(dict.fromkeys(found))


def suggestions(action: Action, sample: Any = None) -> dict[str, list[str]]:
    """What an expression in `action` may read: trigger fields, earlier steps, env, loop data."""
    version = action.version
    actions = {a.id: a for a in version.actions.all()}
    ancestors: list[Action] = []
    cursor = action
    while cursor.parent_id is not None:
        cursor = actions[cursor.parent_id]
        ancestors.append(cursor)
    ancestor_ids = {a.id for a in ancestors}
    order = _preorder(actions)
    earlier = [a for a in order[:order.index(action)] if a.id not in ancestor_ids]
    local: list[str] = []
    child = action
    for parent in ancestors:
        if parent.type == "for_each":
            local += ["item", "index"]
        if parent.type == "try" and child.slot == "catch":
            local += ["error.message", "error.type"]
        child = parent
    variables = variable_names()
    set_vars = [f"vars.{a.inputs.get('name')}" for a in earlier
                if a.type == "set_variable" and isinstance(a.inputs.get("name"), str)]
    return {
        "trigger": trigger_suggestions(version, sample),
        "steps": [f"steps.{a.name}.output" for a in earlier],
        "vars": set_vars,
        "env": [f"env.{name}" for name in variables],
        "loop": list(dict.fromkeys(local)),
    }


def _preorder(actions: dict[Any, Action]) -> list[Action]:
    by_parent: dict[Any, list[Action]] = {}
    for action in sorted(actions.values(), key=lambda a: (a.slot, a.position)):
        by_parent.setdefault(action.parent_id, []).append(action)
    ordered: list[Action] = []
    stack = list(reversed(by_parent.get(None, [])))
    while stack:
        action = stack.pop()
        ordered.append(action)
        declared = get_action_type(action.type).slots
        kids = sorted(by_parent.get(action.id, []),
                      key=lambda a: (a.slot not in declared,
                                     declared.index(a.slot) if a.slot in declared else 0,
                                     a.slot, a.position))
        stack.extend(reversed(kids))
    return ordered
