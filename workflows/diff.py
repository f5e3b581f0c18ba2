"""A structured diff between two workflow documents: what was added, removed, changed, moved."""

from __future__ import annotations

from typing import Any

from workflows.expressions import rename_in_value
from workflows.format import walk

COMPARED = ("type", "description", "inputs", "retry", "timeout_seconds", "continue_on_error",
            "revert")
METADATA = ("description", "tags", "active", "concurrency_limit")


def placed(actions: list[dict], parent: str = "", slot: str = "") -> dict[str, dict]:
    """Each action by name, with where it sits: parent, slot and position."""
    found: dict[str, dict] = {}
    for position, action in enumerate(actions):
        found[action["name"]] = {"action": action, "parent": parent, "slot": slot,
                                 "position": position}
        for child_slot, children in (action.get("children") or {}).items():
            found.update(placed(children, action["name"], child_slot))
    return found


def documents_diff(old: dict | None, new: dict) -> dict[str, Any]:
    """Added, removed, changed (with the fields), moved actions; changed triggers, metadata."""
    old = old or {"actions": [], "triggers": []}
    after = placed(new["actions"])
    renames = find_renames(placed(old["actions"]), after)
    old = translated(old, renames)  # the old version in the new names, references included
    before = placed(old["actions"])
    changed = {
        name: [f for f in COMPARED
               if before[name]["action"].get(f) != after[name]["action"].get(f)]
        for name in before.keys() & after.keys()
    }
    # Moved: another parent or slot, or another order among the siblings that stayed in the
    # slot (blocks added, removed or moved around it shift positions without moving it).
    common = before.keys() & after.keys()
    stayed = {n for n in common if (before[n]["parent"], before[n]["slot"]) == (
        after[n]["parent"], after[n]["slot"])}
    rank_before, rank_after = _ranks(before, stayed), _ranks(after, stayed)
    moved = {
        name: {"from": where(before[name]), "to": where(after[name])}
        for name in common
        if (before[name]["parent"], before[name]["slot"]) != (after[name]["parent"],
                                                              after[name]["slot"])
        or rank_before.get(name) != rank_after.get(name)
    }
    old_triggers = {t["name"]: t for t in old.get("triggers", [])}
    new_triggers = {t["name"]: t for t in new.get("triggers", [])}
    return {
        "renamed": {new_name: old_name for old_name, new_name in sorted(renames.items())},
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": {name: fields for name, fields in sorted(changed.items()) if fields},
        "moved": dict(sorted(moved.items())),
        "triggers": {
            "added": sorted(new_triggers.keys() - old_triggers.keys()),
            "removed": sorted(old_triggers.keys() - new_triggers.keys()),
            "changed": sorted(n for n in old_triggers.keys() & new_triggers.keys()
                              if old_triggers[n] != new_triggers[n]),
        },
        "metadata": sorted(f for f in METADATA if old.get(f) != new.get(f)) if old.get("name")
        else [],
        "actions_total": sum(1 for _ in walk(new["actions"])),
    }


def _depth(places: dict[str, dict], name: str) -> int:
    depth = 0
    while places[name]["parent"]:
        name, depth = places[name]["parent"], depth + 1
    return depth


def find_renames(before: dict[str, dict], after: dict[str, dict]) -> dict[str, str]:
    """{old name: new name} for each block gone under one name and present under another of
    the same type at the same place (parent, slot and position); parents are matched first."""
    renames: dict[str, str] = {}
    added = [n for n in after if n not in before]
    for name in sorted((n for n in before if n not in after), key=lambda n: _depth(before, n)):
        place = before[name]
        parent = renames.get(place["parent"], place["parent"])
        matches = [n for n in added if n not in renames.values()
                   and after[n]["action"]["type"] == place["action"]["type"]
                   and (after[n]["parent"], after[n]["slot"], after[n]["position"])
                   == (parent, place["slot"], place["position"])]
        if len(matches) == 1:
            renames[name] = matches[0]
    return renames


def translated(document: dict, renames: dict[str, str]) -> dict:
    """`document` with renamed blocks under their new names and references rewritten."""
    if not renames:
        return document

    def rewrite(value: Any) -> Any:
        for old_name, new_name in renames.items():
            value = rename_in_value(value, old_name, new_name)
        return value

    def action(spec: dict) -> dict:
        return {**spec, "name": renames.get(spec["name"], spec["name"]),
                "inputs": rewrite(spec.get("inputs")), "revert": rewrite(spec.get("revert")),
                "children": {slot: [action(c) for c in children]
                             for slot, children in (spec.get("children") or {}).items()}}

    return {**document, "actions": [action(a) for a in document["actions"]]}


def _ranks(places: dict[str, dict], names: set[str]) -> dict[str, int]:
    """Each name's index among the `names` in its own (parent, slot)."""
    ranks: dict[str, int] = {}
    counters: dict[tuple[str, str], int] = {}
    for name, place in sorted(places.items(), key=lambda item: item[1]["position"]):
        if name in names:
            key = (place["parent"], place["slot"])
            ranks[name] = counters.get(key, 0)
            counters[key] = ranks[name] + 1
    return ranks


def where(place: dict) -> str:
    if not place["parent"]:
        return f"top level, position {place['position'] + 1}"
    return f"{place['parent']}.{place['slot']}, position {place['position'] + 1}"


def tree_diff(old: dict, new: dict, diff: dict[str, Any]) -> list[dict[str, Any]]:
    """The new version's tree with each block marked added, changed (with its fields) or moved
    (from where), and each removed block shown where it was when its parent is still there."""
    removed = set(diff["removed"])
    before = placed(old["actions"])
    ghosts: dict[tuple[str, str], list[dict]] = {}
    for name in sorted(removed, key=lambda n: before[n]["position"]):
        place = before[name]
        if place["parent"] not in removed:
            ghosts.setdefault((place["parent"], place["slot"]), []).append(place)

    def node(action: dict, gone: bool) -> dict[str, Any]:
        from workflows.actions import REGISTRY

        name = action["name"]
        kind = REGISTRY.get(action["type"])
        children = action.get("children") or {}
        slot_names = list(children) + sorted({s for p, s in ghosts if p == name and not gone}
                                             - set(children))
        return {
            "name": name, "type": action["type"], "icon": kind.icon if kind else "•",
            "label": kind.label if kind else action["type"],
            "summary": kind.summary(action.get("inputs") or {})[:120] if kind else "",
            "removed": gone, "added": name in diff["added"],
            "moved_from": None if gone else (diff["moved"].get(name) or {}).get("from"),
            "renamed_from": None if gone else diff.get("renamed", {}).get(name),
            "changes": [] if gone else diff.get("details", {}).get(name, []),
            "slots": [(slot, merge(children.get(slot, []), name, slot, gone))
                      for slot in slot_names],
        }

    def merge(actions: list[dict], parent: str, slot: str, gone: bool) -> list[dict]:
        nodes = [node(action, gone) for action in actions]
        if gone:
            return nodes
        for place in ghosts.get((parent, slot), []):
            nodes.insert(min(place["position"], len(nodes)), node(place["action"], True))
        return nodes

    return merge(new["actions"], "", "", False)
