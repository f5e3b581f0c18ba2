"""The StepContext the engine hands to an executing action (see workflows.actions.base)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from runner import journal
from workflows.actions.base import ActionError, ConnectionInfo, Park, SlotResult, StopRun
from workflows.trigger_input import output_problems

if TYPE_CHECKING:
    from runner.engine import Engine
    from runner.scope import Scope

# One child run of a slot: (slot, bindings, key), as `StepContext.run_slots` takes them.
SlotCall: TypeAlias = tuple[str, dict[str, Any] | None, str | None]

# RQ's scheduler wakes parked runs once a second: shorter waits cost less slept in place.
SHORT_WAIT_SECONDS = 1.0


class RunCancelled(Exception):  # noqa: N818
    """The run was cancelled; raised at the next step boundary."""


class StepCtx:
    def __init__(self, engine: Engine, node: dict, key: str, attempt: int,
                 state: dict[str, Any], scope: Scope | None, prefix: str):
        self.engine = engine
        self.node = node
        self.step_key = key
        self.attempt = attempt
        self.state = state
        self.scope = scope
        self.prefix = prefix
        self.run_id = str(engine.run.id)
        self.environment_name = getattr(engine.run.environment, "name", None)
        self.environment_id = engine.run.environment_id
        self.deadline: float | None = None
        # One key per step, the same for a resumed attempt and for every retry (as with
        # Stripe's keys): the receiver can tell a repeated call from a new one.
        self.idempotency_key = f"{engine.run.id}:{key}"

    def now(self) -> datetime:
        return timezone.now()

    def time_left(self, limit: float) -> float:
        """`limit` seconds, or less when the step's timeout comes first (never below 0.01:
        a socket timeout of 0 would mean non-blocking)."""
        if self.deadline is None:
            return limit
        return max(0.01, min(limit, self.deadline - time.monotonic()))

    def log(self, message: str, level: str = "info") -> None:
        self.engine.recorder.log(self.step_key, level, message)

    def connection(self, name: str, kind: str) -> ConnectionInfo:
        return self.engine.bindings.connection(name, kind)

    def secret_values(self) -> list[str]:
        return list(self.engine.secret_values)

    def set_variable(self, name: str, value: Any) -> None:
        self.engine.vars[name] = value

    # --- children -------------------------------------------------------------------------

    def slot_names(self) -> list[str]:
        return list(self.node["children"])

    def run_slot(self, slot: str, *, bindings: dict[str, Any] | None = None,
                 key: str | None = None, missing_ok: bool = False) -> SlotResult | None:
        children = self.node["children"].get(slot)
        if children is None:
            if missing_ok:
                return None
            children = []
        prefix = self.prefix if key is None else f"{self.step_key}.{key}/"
        assert self.scope is not None  # only a revert has no scope, and it runs no children
        scope = self.scope.child(bindings, isolated=key is not None)
        self.engine.run_sequence(children, scope, prefix)
        outputs = {name: scope.steps.get(name, {}).get("output") for name in children}
        return SlotResult(slot=slot, outputs=outputs)

    def run_slots(self, calls: Sequence[SlotCall], *,
                  concurrency: int) -> list[SlotResult | ActionError]:
        if concurrency <= 1 or len(calls) <= 1:
            return self._run_sequentially(calls)
        return self._run_concurrently(calls, concurrency)

    def _run_sequentially(self, calls: Sequence[SlotCall]) -> list[SlotResult | ActionError]:
        results: list[SlotResult | ActionError] = []
        for slot, bindings, key in calls:
            try:
                result = self.run_slot(slot, bindings=bindings, key=key)
                assert result is not None  # not missing_ok: a missing slot runs no children
                results.append(result)
            except ActionError as error:
                results.append(error)
                break
        return results

    def _run_concurrently(
        self, calls: Sequence[SlotCall], concurrency: int
    ) -> list[SlotResult | ActionError]:
        def one(call: SlotCall) -> Any:  # a SlotResult, or the signal or error it raised
            slot, bindings, key = call
            try:
                return self.run_slot(slot, bindings=bindings, key=key)
            except (ActionError, Park, StopRun, RunCancelled, journal.LeaseLost) as signal:
                return signal
            finally:
                close_old_connections()

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(pool.map(one, calls))
        for kind in (journal.LeaseLost, RunCancelled, StopRun):
            for outcome in outcomes:
                if isinstance(outcome, kind):
                    raise outcome
        errors = [o for o in outcomes if isinstance(o, ActionError)]
        parks = [o for o in outcomes if isinstance(o, Park)]
        if parks and not errors:
            deadlines = [p.until for p in parks if p.until is not None]
            raise Park(until=min(deadlines) if len(deadlines) == len(parks) else
                       (min(deadlines) if deadlines else None),
                       reason=parks[0].reason)
        return outcomes

    # --- parking, responses, locks, children, approvals ---------------------------------------

    def park(self, *, until: datetime | None, reason: str) -> None:
        """Park the run; a deadline closer than the scheduler's tick is slept through instead."""
        if until is not None:
            remaining = (until - timezone.now()).total_seconds()
            if remaining <= SHORT_WAIT_SECONDS:
                time.sleep(max(0.0, remaining))
                return
        raise Park(until=until, reason=reason)

    def respond(self, *, status: int, headers: dict[str, str], body: Any) -> None:
        """Answer the caller; a body that does not match the HTTP trigger's `output_schema`
        fails the step, and nothing is sent."""
        if problem := output_problems(self.engine.trigger_settings(), body, "the response body"):
            raise ActionError(problem, kind="invalid_output")
        self.engine.recorder.respond({"status": status, "headers": headers, "body": body})

    def acquire_lock(self, name: str) -> bool:
        self.engine.recorder.flush()
        return journal.try_acquire_lock(self.engine.run, name, self.step_key)

    def release_lock(self, name: str) -> None:
        self.engine.recorder.flush()
        journal.release_lock(self.engine.run, name)

    def record_written(self, *, collection: str, record_id: str, event: str) -> None:
        from runner.reactions import record_written

        record_written(run=self.engine.run, collection=collection, record_id=record_id,
                       event=event)

    def approval_decision(self, *, group: str) -> dict[str, Any] | None:
        return self.state.get("decision")

    def start_child_run(self, *, workflow: str, payload: Any, wait: bool) -> dict[str, Any]:
        from runner import services
        from runner.models import Run

        if "child_run_id" not in self.state:
            run = self.engine.run
            if run.depth + 1 > settings.OWLGRID_MAX_RUN_DEPTH:
                raise ActionError(
                    f"workflow call depth limit of {settings.OWLGRID_MAX_RUN_DEPTH} reached "
                    "(a workflow calling itself through others?)",
                    kind="depth_limit",
                )
            # A deterministic id: a resumed step finds the child it already started.
            child_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{run.id}/{self.step_key}/{self.attempt}")
            child = Run.objects.filter(id=child_id).first() or services.run_start_child(
                parent=run, workflow_name=workflow, run_id=child_id,
                # A secret reaches the child hidden: the child reads it from its environment.
                payload=self.engine.recorder.mask(payload)
            )
            self.state["child_run_id"] = str(child.id)
            if not wait:
                return {"run_id": str(child.id), "status": child.status, "result": None}
        child = Run.objects.get(id=self.state["child_run_id"])
        if not child.is_finished:
            raise Park(until=None, reason=f"child:{child.id}")
        if child.status != "completed":
            raise ActionError(
                f"child run of {child.workflow.name} {child.status}: "
                f"{(child.error or {}).get('message', '')}",
                kind="child_failed",
                run_id=str(child.id),
            )
        return {"run_id": str(child.id), "status": child.status, "result": child.result}
