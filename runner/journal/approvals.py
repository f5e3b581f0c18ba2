"""Approval decisions: stored once on the waiting approval step's journal, then the run wakes
and its approval step reads the decision from its state."""

from __future__ import annotations

from typing import Any

from runner.journal import transactions
from runner.journal.records import event_like
from runner.journal.runs import wake
from runner.models import Run, RunStatus, StepEvent, StepStatus


def record_decision(run_id: Any, step_key: str, decision: dict[str, Any]) -> bool:
    """Store an approval decision on a waiting approval step, once; then wake the run.
    False when the run or the step is not waiting, or the step was decided already."""
    with transactions.atomic():
        run = Run.objects.select_for_update().get(id=run_id)
        latest = StepEvent.objects.filter(run=run, step_key=step_key).order_by("-id").first()
        if run.status != RunStatus.WAITING or latest is None or not _undecided(latest):
            return False
        state = {**(latest.output or {}).get("state", {}), "decision": decision}
        event_like(latest, run=run, output={"state": state}).save(force_insert=True)
        wake(run.id)
    return True


def _undecided(event: StepEvent) -> bool:
    """Whether the step's latest event is a wait with no decision in its state."""
    return (event.status == StepStatus.WAITING
            and not (event.output or {}).get("state", {}).get("decision"))
