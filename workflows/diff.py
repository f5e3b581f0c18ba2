"""A structured diff between two workflow documents: what was added, removed, changed, moved."""

from __future__ import annotations

from typing import Any

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
    before, after = placed(old["actions"]), placed(new["actions"])
    changed = {
        name: [f for f in COMPARED
               if before[name]["action"].get(f) != after[name]["action"].get(f)]
        for name in before.keys() & after.keys()
    }
    moved = {
        name: {"from": where(before[name]), "to": where(after[name])}
        for name in before.keys() & after.keys()
        if (before[name]["parent"], before[name]["slot"]) != (after[name]["parent"],
                                                              after[name]["slot"])
        or before[name]["position"] != after[name]["position"]
    }
    old_triggers = {t["name"]: t for t in old.get("triggers", [])}
    new_triggers = {t["name"]: t for t in new.get("triggers", [])}
    return {
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


def where(place: dict) -> str:
    if not place["parent"]:
        return f"top level, position {place['position'] + 1}"
    return f"{place['parent']}.{place['slot']}, position {place['position'] + 1}"
