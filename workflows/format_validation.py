"""Validation of workflow documents: every problem, each with its JSON path, before any write.

Order matters for hostile input: the size is checked before parsing, the nesting depth is
counted on the raw text (iteratively) before `json.loads` can recurse, and the JSON Schema runs
before the semantic checks that walk the tree.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from workflows.actions import REGISTRY, get_action_type
from workflows.models import RESERVED_WORKFLOW_NAMES
from workflows.triggers import REGISTRY as TRIGGER_TYPES

if TYPE_CHECKING:  # jsonschema is imported when a document is checked, not at start-up
    from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "workflow.schema.json"
MAX_JSON_DEPTH = 200
MAX_ACTION_DEPTH = 32

Problem = tuple[str, str]


MAX_PROBLEMS = 50


class ImportErrors(ValueError):  # noqa: N818 - a list of problems, named for what it holds
    """What is wrong with a document, as (json path, message) pairs: the first MAX_PROBLEMS of
    them, and how many there were in all (`total`)."""

    def __init__(self, problems: list[Problem]):
        self.total = len(problems)
        self.problems = problems[:MAX_PROBLEMS]
        more = self.total - len(self.problems)
        summary = "; ".join(f"{path}: {message}" for path, message in self.problems)
        super().__init__(summary + (f"; and {more} more problem(s)" if more else ""))


def workflow_schema() -> dict[str, Any]:
    """The format's JSON Schema, its trigger type enum filled from the trigger registry.

    The file leaves the enum out so that a new trigger type is one module and one registry
    line, never a schema edit.
    """
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    schema["$defs"]["trigger"]["properties"]["type"]["enum"] = list(TRIGGER_TYPES)
    return schema


@cache
def schema_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(workflow_schema())


def json_path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "$"


def parse_document(document: bytes | str | dict) -> dict:
    """Bytes or text to a dict, refusing oversized, over-nested or malformed input."""
    if isinstance(document, dict):
        return document
    raw = document.encode() if isinstance(document, str) else document
    limit = settings.OWLGRID_MAX_IMPORT_BYTES
    if len(raw) > limit:
        raise ImportErrors([("$", f"the document is {len(raw) / 1e6:.1f} MB; "
                                  f"the limit is {limit / 1e6:.1f} MB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportErrors([("$", f"the document is not valid UTF-8 (byte {exc.start})")]) from None
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ImportErrors([("$", f"nesting deeper than {MAX_JSON_DEPTH} levels ({depth})")])
    try:
        parsed = json.loads(text, parse_int=bounded_int)
    except json.JSONDecodeError as exc:
        raise ImportErrors([("$", f"invalid JSON: {exc.msg} at line {exc.lineno}, "
                                  f"column {exc.colno}")]) from None
    except ValueError as exc:  # bounded_int's refusal
        raise ImportErrors([("$", str(exc))]) from None
    if not isinstance(parsed, dict):
        raise ImportErrors([("$", "the document must be a JSON object")])
    return parsed


MAX_INT_DIGITS = 20  # beyond any 64-bit integer a database column or an API would take


def bounded_int(digits: str) -> int:
    """A JSON integer, refused when longer than MAX_INT_DIGITS digits."""
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits.lstrip('-'))} digits: at most "
                         f"{MAX_INT_DIGITS} are accepted")
    return int(digits)


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, counted without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_document(document: dict) -> list[Problem]:
    problems = [
        (json_path(error.absolute_path), error.message)
        for error in sorted(schema_validator().iter_errors(document), key=lambda e: list(
            map(str, e.absolute_path)))
    ]
    if problems:
        return problems
    if document["name"] in RESERVED_WORKFLOW_NAMES:
        problems.append(("name", f"{document['name']!r} is reserved (a page of the workflow "
                                 "list); choose another name"))
    names: dict[str, str] = {}
    for index, action in enumerate(document.get("actions", [])):
        problems += check_action(action, f"actions[{index}]", names, depth=1)
    for index, trigger in enumerate(document.get("triggers", [])):
        problems += check_trigger(trigger, f"triggers[{index}]")
    trigger_names = [t["name"] for t in document.get("triggers", [])]
    for index, name in enumerate(trigger_names):
        if trigger_names.index(name) != index:
            problems.append((f"triggers[{index}].name", f"duplicate trigger name {name!r}"))
    return problems


PATH_STEP = re.compile(r"(?:^|\.)(?P<key>[\w-]+)|\[(?P<index>\d+)\]")


def where(document: dict, path: str) -> str:
    """A problem's document path in the user's words: the block or trigger it is about, by
    name, and the field: `block 'fetch' (HTTP request), field URL`."""
    node: Any = document
    subject, previous = "", ""
    field: list[str] = []
    for match in PATH_STEP.finditer(path):
        step: str | int = int(match["index"]) if match["index"] is not None else match["key"]
        if not field:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                node = None
            if isinstance(step, int) and isinstance(node, dict) and "name" in node:
                subject, previous = _subject(node, path), ""
                continue
            if step in CONTAINERS or previous == "children":
                previous = str(step)
                continue
        field.append(str(step))
    words = ".".join([FIELD_WORDS.get(field[0], field[0].replace("_", " ")), *field[1:]]
                     ) if field else ""
    return ", field ".join(filter(None, [subject, words])) or path


CONTAINERS = {"actions", "triggers", "children", "inputs", "settings"}
FIELD_WORDS = {"url": "URL", "json": "JSON body"}


def _subject(node: dict, path: str) -> str:
    if path.startswith("triggers"):
        return f"trigger '{node['name']}'"
    label = get_action_type(node["type"]).label if node.get("type") in REGISTRY else "block"
    return f"block '{node['name']}' ({label})"


def check_action(action: dict, path: str, names: dict[str, str], depth: int) -> list[Problem]:
    if depth > MAX_ACTION_DEPTH:
        return [(path, f"actions nested deeper than {MAX_ACTION_DEPTH} levels")]
    problems: list[Problem] = []
    name = action["name"]
    if name in names:
        problems.append((f"{path}.name", f"duplicate action name {name!r} "
                                         f"(first used at {names[name]})"))
    names.setdefault(name, path)
    if action["type"] not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        return problems + [(f"{path}.type",
                            f"unknown action type {action['type']!r}; known types: {known}")]
    action_type = get_action_type(action["type"])
    problems += [
        (f"{path}.inputs.{sub}" if sub else f"{path}.inputs", message)
        for sub, message in action_type.validate_definition(action.get("inputs", {}))
    ]
    problems += check_revert(action.get("revert"), f"{path}.revert")
    for slot, children in (action.get("children") or {}).items():
        if not action_type.allows_slot(slot):
            allowed = ", ".join(action_type.slots) or "none"
            problems.append((f"{path}.children.{slot}",
                             f"{action['type']} has no slot {slot!r} (slots: {allowed})"))
        for index, child in enumerate(children):
            problems += check_action(child, f"{path}.children.{slot}[{index}]", names, depth + 1)
    return problems


def check_revert(revert: dict | None, path: str) -> list[Problem]:
    if not revert:
        return []
    if revert["type"] not in REGISTRY:
        return [(f"{path}.type", f"unknown action type {revert['type']!r}")]
    return [
        (f"{path}.inputs.{sub}" if sub else f"{path}.inputs", message)
        for sub, message in get_action_type(revert["type"]).validate_definition(
            revert.get("inputs", {})
        )
    ]


ACCESS_CHOICES = ('{"mode": "group", "group": "<security group>"} (its members\' tokens), '
                  '{"mode": "hmac", "secret_variable": "<variable>"} (signed calls) or '
                  '{"mode": "public"} (anyone with the URL)')


def check_trigger(trigger: dict, path: str) -> list[Problem]:
    trigger_type = TRIGGER_TYPES.get(trigger["type"])
    access = trigger.get("access")
    if access is None and trigger_type is not None and trigger_type.default_access != "public":
        # Callers from outside: who may call is always chosen, never assumed.
        problems = [(f"{path}.access", f"say who may call this trigger: {ACCESS_CHOICES}")]
    else:
        problems = check_access(access or {"mode": "public"}, f"{path}.access")
    if trigger_type is not None:  # the JSON Schema already named an unknown type
        problems += [(f"{path}.settings.{field}", message)
                     for field, message in trigger_type.check(trigger.get("settings") or {})]
    return problems


def check_access(access: dict, path: str) -> list[Problem]:
    from access.models import SecurityGroup

    mode = access["mode"]
    if mode == "group":
        group = access.get("group")
        if not group:
            return [(f"{path}.group", "name the security group whose tokens may call")]
        if not SecurityGroup.objects.filter(name=group).exists():
            return [(f"{path}.group", f"no security group named {group!r}")]
    if mode == "hmac" and not access.get("secret_variable"):
        return [(f"{path}.secret_variable",
                 "name the environment variable that holds the signing secret")]
    return []

