"""What the run page shows of a run's steps: loop iterations folded under their loop, one page
of them at a time, and data as JSON.

A loop over 500 items makes a thousand steps or more; listed one per row they buried the page.
Each loop row instead counts its iterations and their steps by status, and the reader opens
the iterations of one loop a page at a time (`?loop=<key>&page=<n>`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from runner.models import Run
from runner.sealing import shown

ITERATIONS_PER_PAGE = 20
ITERATION_SEGMENT = re.compile(r"^(?P<name>.+)\.(?P<index>\d+)$")


@dataclass(frozen=True)
class OpenLoop:
    """The loop whose iterations the reader asked to see, and which page of them."""

    key: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, loop: str | None, page: str | None) -> OpenLoop:
        number = int(page) if page and page.isdigit() and 0 < int(page) < 100_000 else 1
        return cls(key=(loop or "")[:500], page=number)


def outer_iteration(key: str) -> tuple[str, int] | None:
    """(loop key, iteration) of the outermost loop iteration holding the step `key`:
    `loop.3/tick` → ("loop", 3); a step in no iteration → None."""
    segments = key.split("/")
    for position, segment in enumerate(segments[:-1]):
        if match := ITERATION_SEGMENT.match(segment):
            return "/".join([*segments[:position], match["name"]]), int(match["index"])
    return None


def fold_iterations(steps: list[dict[str, Any]], open_loop: OpenLoop) -> list[dict[str, Any]]:
    """The rows to show, in tree order: iteration steps are left out except the open page of
    the open loop, and each loop row gets `iterations` (total, steps by status, paging)."""
    by_loop: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for step in steps:
        inside = outer_iteration(step["key"])
        if inside is None:
            rows.append(step)
            continue
        loop, index = inside
        summary = by_loop.setdefault(loop, {"indices": set(), "statuses": Counter()})
        summary["indices"].add(index)
        summary["statuses"][step["status"]] += 1
        if loop == open_loop.key and _on_page(index, open_loop.page):
            rows.append(step)
    for row in rows:
        if row["key"] in by_loop:
            row["iterations"] = _paging(row["key"], by_loop[row["key"]], open_loop)
    return rows


def _on_page(index: int, page: int) -> bool:
    return (page - 1) * ITERATIONS_PER_PAGE <= index < page * ITERATIONS_PER_PAGE


def _paging(key: str, summary: dict[str, Any], open_loop: OpenLoop) -> dict[str, Any]:
    total = max(summary["indices"]) + 1
    pages = (total + ITERATIONS_PER_PAGE - 1) // ITERATIONS_PER_PAGE
    page = min(open_loop.page, pages) if open_loop.key == key else 0
    return {"total": total, "statuses": dict(sorted(summary["statuses"].items())),
            "open": page > 0, "page": page, "pages": pages,
            "first": (page - 1) * ITERATIONS_PER_PAGE + 1 if page else 0,
            "last": min(page * ITERATIONS_PER_PAGE, total) if page else 0,
            "previous": page - 1 if page > 1 else 0, "next": page + 1 if page < pages else 0}


def page_rows(steps: list[dict[str, Any]], open_loop: OpenLoop) -> list[dict[str, Any]]:
    """`fold_iterations`, each row with its data as JSON text."""
    rows = fold_iterations(steps, open_loop)
    for row in rows:
        for name in ("inputs", "output", "error"):
            row[f"{name}_json"] = as_json(row[name])
    return rows


def block_names(steps: list[dict[str, Any]]) -> list[str]:
    """The blocks a run's log can be filtered by (each block once, not each iteration)."""
    return list(dict.fromkeys(step["name"] for step in steps if step["name"]))


def run_data_json(run: Run) -> dict[str, str]:
    """The run's input, result, error and HTTP response as JSON, secrets shown as ⟦secret⟧."""
    return {f"{name}_json": as_json(shown(getattr(run, name)))
            for name in ("trigger_input", "result", "error", "response")}


def as_json(value: Any) -> str:
    """Data as the reader expects it: indented JSON, not a Python repr."""
    if value is None:
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
