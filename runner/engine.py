"""The interpreter: walks a run's plan, executing each step once, durably.

Before a step starts, the journal is consulted: a completed step is replayed from its stored
output (never executed again), a failed one re-raises its stored error, a waiting one resumes
with its stored state and its journaled inputs. Each step's result is committed (fenced by the
lease) before the next step starts. Waits, approvals, locks and child runs park the run: the
worker is released and the run is resumed later, possibly on another worker.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from runner import journal, lease_keeper
from runner.bindings import Bindings, load_bindings
from runner.context import Park, RunCancelled, StepCtx
from runner.models import Run, RunStatus, StepEvent, StepStatus
from runner.plan import descendants
from runner.recorder import Recorder
from runner.reverts import revert_completed
from runner.scope import Completed, Scope, StepRecord, attempt_for, error_kwargs
from runner.sealing import Sealer
from workflows import expression_limits, taint
from workflows.actions import get_action_type
from workflows.actions.base import ActionError, ActionType, StopRun
from workflows.expressions import ExpressionError, render_value
from workflows.trigger_input import output_problems

logger = logging.getLogger("owlgrid.runner")
IN_PROCESS_BACKOFF_LIMIT = 2.0  # longer retry delays park the run instead of sleeping
NOT_RETRIED = {"invalid_inputs", "expression", "rejected", "outbound_refused", "cancelled"}


class Engine:
    def __init__(self, run: Run, worker: str, *, fresh: bool = False,
                 bindings: Bindings | None = None):
        """`fresh`: the run's journal is known to be empty (created by this executor a moment
        ago, or claimed by a worker for its first start).
        `bindings`: the run's environment's, when the executor has just loaded them."""
        self.run = run
        self.worker = worker
        self.plan = run.plan
        self.bindings: Bindings = bindings if bindings is not None else load_bindings(
            run.environment)
        self.secret_values = self.bindings.secret_values()
        self.records: dict[str, StepRecord] = {}
        self.completed: list[Completed] = []
        self.vars: dict[str, Any] = {}
        self.stop = threading.Event()  # set on a cancel: stops a render at its next check
        self.cancel = run.cancel_requested
        self.recorder = Recorder(run, worker, secret_values=self.secret_values,
                                 cancelled=self.stop)
        self.sealer = Sealer(self.bindings.secrets, revealed=self.secret_values)
        self.lost = threading.Event()
        if not fresh:
            self._load_journal()

    @property
    def cancel(self) -> bool:
        return self.stop.is_set()

    @cancel.setter
    def cancel(self, value: bool) -> None:
        if value:
            self.stop.set()

    # --- journal replay ------------------------------------------------------------------

    def _load_journal(self) -> None:
        events = StepEvent.objects.filter(run=self.run).exclude(step_key="").order_by("id")
        for event in events.values("step_key", "action_name", "status", "attempt", "inputs",
                                   "output", "error"):
            key = event["step_key"]
            self.records[key] = StepRecord(
                status=event["status"],
                attempt=event["attempt"],
                inputs=event["inputs"],
                output=event["output"],
                error=event["error"],
            )
            if event["status"] == StepStatus.COMPLETED:
                node = self.plan["actions"].get(event["action_name"])
                if node is not None:
                    self.completed.append(
                        Completed(key, node, event["inputs"], event["output"])
                    )
            elif event["status"] == StepStatus.REVERTED:
                self.completed = [c for c in self.completed if c.key != key]

    # --- entry point -----------------------------------------------------------------------

    def execute(self) -> None:
        lease_keeper.keeper.keep(self)
        try:
            self._execute()
        except journal.LeaseLost:
            logger.warning("run %s: lease lost, dropping this execution", self.run.id)
        finally:
            lease_keeper.keeper.release(self)

    def _execute(self) -> None:
        if not journal.take_concurrency_slot(self.run):
            self.recorder.flush()
            journal.park(self.run, self.worker, until=None, reason="concurrency")
            return
        scope = Scope(
            trigger=self.run.trigger_input,
            vars=self.vars,
            steps={},
            env=self.bindings.env,
            run={"id": str(self.run.id), "environment": self.run.environment.name
                 if self.run.environment is not None else None},
        )
        try:
            last = self.run_sequence(self.plan["root"], scope, prefix="", final=True)
        except Park as park:
            self.recorder.flush()
            journal.park(self.run, self.worker, until=park.until, reason=park.reason)
        except RunCancelled:
            self.recorder.flush()
            journal.finish(self.run, self.worker, status=RunStatus.CANCELLED,
                           error=journal.cancelled_error(self.run))
        except StopRun as stop:
            self._finish_stopped(stop)
        except ActionError as error:
            self._fail(error)
        else:
            if problem := self._output_problem(last):
                self._fail(ActionError(problem, kind="invalid_output"))
                return
            # The last step's result is committed with the run's end: one write, not two.
            journal.finish(self.run, self.worker, status=RunStatus.COMPLETED,
                           result=self.recorder.mask({"output": last, "vars": self.vars}),
                           **self.recorder.take_pending())

    def trigger_settings(self) -> dict[str, Any]:
        """The settings of the trigger that started the run ({} without one)."""
        trigger = self.run.trigger if self.run.trigger_id else None
        return dict(trigger.settings or {}) if trigger is not None else {}

    def _output_problem(self, output: Any) -> str:
        """A child run's result must match its `workflow` trigger's `output_schema`."""
        if self.run.trigger_type != "workflow":
            return ""
        return output_problems(self.trigger_settings(), output, "the run's result")

    def _finish_stopped(self, stop: StopRun) -> None:
        if stop.failed:
            self._fail(ActionError(stop.message, kind="failed_by_workflow"))
            return
        if problem := self._output_problem(stop.result):
            self._fail(ActionError(problem, kind="invalid_output"))
            return
        self.recorder.flush()
        journal.finish(self.run, self.worker, status=RunStatus.COMPLETED,
                       result=self.recorder.mask({"output": stop.result, "vars": self.vars}))

    def _fail(self, error: ActionError) -> None:
        self.recorder.log("", "error", f"run failed: {error.message}")
        self.recorder.flush()
        revert_completed(self)
        self.recorder.flush()
        journal.finish(self.run, self.worker, status=RunStatus.FAILED,
                       error=self.recorder.mask(error.as_dict()))

    # --- sequences and steps -----------------------------------------------------------------

    def run_sequence(self, names: list[str], scope: Scope, prefix: str, *,
                     final: bool = False) -> Any:
        """`final`: the run ends after this sequence (the plan's root), so its last step's
        result may wait for the run's end to be committed with it."""
        for name in names:  # the blocks this sequence will reach, each `not_started` first
            if prefix + name not in self.records:
                self.record(prefix + name, self.plan["actions"][name], StepStatus.NOT_STARTED,
                            None, 1)
        last = None
        for index, name in enumerate(names):
            last = self.run_step(name, scope, prefix, final=final and index == len(names) - 1)
        return last

    def run_step(self, name: str, scope: Scope, prefix: str, *, final: bool = False) -> Any:
        node = self.plan["actions"][name]
        key = prefix + name
        record = self.records.get(key)
        if self.cancel:
            raise RunCancelled
        if record is not None and record.status == StepStatus.COMPLETED:
            return self.replay_completed(node, key, record, scope)
        if record is not None and record.status == StepStatus.FAILED:
            return self._journaled_failure(node, record, scope)
        return self.execute_step(node, key, record, scope, prefix, final=final)

    def replay_completed(self, node: dict, key: str, record: StepRecord, scope: Scope) -> Any:
        """Use the stored output; re-apply the effects of this step and of its subtree."""
        output = self.sealer.hydrate(record.output)
        scope.steps[node["name"]] = {"output": output}
        self._apply_replay(node, output)
        below = descendants(self.plan, node["name"])
        if below:
            prefix = key[: -len(node["name"])]
            for item in self.completed:
                if item.node["name"] in below and item.key.startswith(prefix):
                    self._apply_replay(item.node, self.sealer.hydrate(item.output))
        return output

    def _apply_replay(self, node: dict, output: Any) -> None:
        get_action_type(node["type"]).replay(self.vars, output)

    def _journaled_failure(self, node: dict, record: StepRecord, scope: Scope) -> Any:
        error = ActionError(**error_kwargs(record.error))
        if node["continue_on_error"]:
            scope.steps[node["name"]] = {"output": None, "error": record.error}
            return None
        raise error

    def execute_step(
        self, node: dict, key: str, record: StepRecord | None, scope: Scope, prefix: str, *,
        final: bool = False,
    ) -> Any:
        action_type = get_action_type(node["type"])
        previous = record.status if record else None
        attempt = attempt_for(record)
        state = record.state if record else {}
        inputs = record.inputs if record is not None and record.inputs is not None else None
        if inputs is None:
            try:
                inputs = self.sealer.seal(self._render(node, scope, key))
            except ActionError as error:  # a failed step like any: continue_on_error applies
                self.record(key, node, StepStatus.RUNNING, previous, attempt, inputs=None)
                return self._step_failed(node, key, StepStatus.RUNNING, attempt, None, error,
                                         scope)
        while True:
            self.record(key, node, StepStatus.RUNNING, previous, attempt, inputs=inputs)
            previous = StepStatus.RUNNING
            if action_type.category != "data":
                self.recorder.flush()  # make a slow or nested step visible as running
            try:
                output = self._invoke(action_type, node, key, attempt, inputs, state, scope, prefix)
            except Park:
                self.record(key, node, StepStatus.WAITING, previous, attempt, inputs=inputs,
                            output={"state": state})
                raise
            except StopRun as stop:
                self.record(key, node, StepStatus.COMPLETED, previous, attempt, inputs=inputs,
                            output=self.stored({"stopped": True, "result": stop.result}))
                self.recorder.flush()
                raise
            except ActionError as error:
                delay = self._retry_delay(node, attempt, error)
                if delay is None:
                    return self._step_failed(node, key, previous, attempt, inputs, error, scope)
                self.record(key, node, StepStatus.RETRYING, previous, attempt, inputs=inputs,
                            error=self.recorder.mask(error.as_dict()))
                previous = StepStatus.RETRYING
                self.recorder.log(key, "warning", f"attempt {attempt} failed ({error.message}); "
                                         f"retrying in {delay:.1f}s")
                attempt += 1
                self.recorder.flush()  # the retry is visible (and the run recorded) during the wait
                if delay > IN_PROCESS_BACKOFF_LIMIT:
                    raise Park(until=timezone.now() + timedelta(seconds=delay),
                               reason="retry") from None
                time.sleep(delay)
                continue
            stored = self.stored(output)
            self.record(key, node, StepStatus.COMPLETED, previous, attempt, inputs=inputs,
                        output=stored)
            self.completed.append(Completed(key, node, inputs, stored))
            live = self.sealer.hydrate(stored)
            scope.steps[node["name"]] = {"output": live}
            if not final:  # else committed with the run's end, before anything else runs
                self.recorder.flush()
            return live

    def _invoke(
        self, action_type: ActionType, node: dict[str, Any], key: str, attempt: int,
        inputs: dict[str, Any], state: dict[str, Any], scope: Scope, prefix: str,
    ) -> Any:
        try:
            return self._invoke_unguarded(action_type, node, key, attempt, inputs, state, scope,
                                          prefix)
        except (ActionError, Park, StopRun, RunCancelled, journal.LeaseLost):
            raise
        except MemoryError:
            raise ActionError("the worker's memory ceiling was reached (OWLGRID_WORKER_MEMORY_MB)",
                              kind="memory_limit") from None
        except Exception as exc:  # noqa: BLE001 - a bug must fail the step, not loop the run
            logger.exception("run %s step %s: unexpected error", self.run.id, key)
            raise ActionError(f"internal error: {type(exc).__name__}: {exc}",
                              kind="internal_error") from None

    def _invoke_unguarded(
        self, action_type: ActionType, node: dict[str, Any], key: str, attempt: int,
        inputs: dict[str, Any], state: dict[str, Any], scope: Scope, prefix: str,
    ) -> Any:
        ctx = StepCtx(self, node, key, attempt, state, scope, prefix)
        real_inputs = self.sealer.hydrate(inputs)
        parsed = action_type.parse_inputs(_without(real_inputs, action_type.raw_inputs))
        timeout = node.get("timeout")
        if not timeout or action_type.category == "structural":
            return action_type.execute(ctx, parsed)
        # The action runs here, on this thread, with the deadline: its calls wait no longer
        # than the time left, so nothing goes on working once the step has timed out.
        ctx.deadline = time.monotonic() + float(timeout)
        try:
            return action_type.execute(ctx, parsed)
        except ActionError as error:
            if error.kind == "timeout" or time.monotonic() >= ctx.deadline:
                safe = action_type.retry_safe(parsed)
                note = "" if safe else "; it may have taken effect, so it is not retried"
                raise ActionError(f"timed out after {float(timeout):g}s{note} ({error})",
                                  kind="timeout", retryable=safe) from None
            raise

    def _render(self, node: dict, scope: Scope, key: str) -> Any:
        action_type = get_action_type(node["type"])
        raw = {k: v for k, v in node["inputs"].items() if k not in action_type.raw_inputs}
        try:
            with self.expression_budget(), taint.collecting() as derived:
                rendered = render_value(raw, scope.as_context())
        except ExpressionError as exc:
            if self.cancel:  # the render was stopped by the cancel, not by its own fault
                raise RunCancelled from None
            self.sealer.reveal(derived)  # the error may quote a value derived from a secret
            raise ActionError(f"block {node['name']!r}, field {exc.field or '?'}: {exc.reason}",
                              kind="expression", block=node["name"], field=exc.field) from None
        return {**rendered, **{k: node["inputs"][k] for k in action_type.raw_inputs
                               if k in node["inputs"]}}

    def expression_budget(self) -> AbstractContextManager[Any]:
        """One step's renders share a time and size budget: the environment's, else the
        site's defaults."""
        environment = self.run.environment
        return expression_limits.budget(
            time_limit_ms=getattr(environment, "expression_time_limit_ms", None),
            size_limit=getattr(environment, "expression_size_limit", None), stop=self.stop)

    def _retry_delay(self, node: dict, attempt: int, error: ActionError) -> float | None:
        policy = node.get("retry") or {}
        max_attempts = int(policy.get("max_attempts", 1))
        if attempt >= max_attempts or error.kind in NOT_RETRIED:
            return None
        if error.kind == "timeout" and not error.retryable:
            return None  # it may have taken effect: sending it again could do it twice
        backoff: float = float(policy.get("backoff_seconds", 1.0)) * (2 ** (attempt - 1))
        if policy.get("jitter", True):
            backoff *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
        return min(backoff, float(policy.get("max_backoff_seconds", 3600)))

    def _step_failed(
        self, node: dict[str, Any], key: str, previous: str | None, attempt: int,
        inputs: dict[str, Any] | None, error: ActionError, scope: Scope,
    ) -> Any:
        if error.failed_step and error.failed_step != key:  # raised by a block inside
            masked = {"type": "child_failed", "retryable": False, "step": error.failed_step,
                      "message": f"block {error.failed_block!r} inside it failed"}
        else:
            error.failed_step, error.failed_block = key, node["name"]
            masked = self.recorder.mask(error.as_dict())
        self.record(key, node, StepStatus.FAILED, previous, attempt, inputs=inputs, error=masked)
        self.recorder.log(key, "error", f"{node['name']} failed: {masked['message']}")
        self.recorder.flush()
        if node["continue_on_error"]:
            scope.steps[node["name"]] = {"output": None, "error": masked}
            return None
        raise error


    def stored(self, value: Any) -> Any:
        """A step's inputs or output as the journal keeps them: secrets sealed (a resumed run
        gets them back), and any other copy of a secret's value masked."""
        return self.recorder.mask(self.sealer.seal(value))

    def record(self, key: str, node: dict, status: str, previous: str | None, attempt: int,
               **fields: Any) -> None:
        """A step's new state: the engine's view of the journal now, the journal's at the
        next commit."""
        self.records[key] = StepRecord(status=status, attempt=attempt, inputs=fields.get("inputs"),
                                       output=fields.get("output"), error=fields.get("error"))
        self.recorder.event(key, node, status, previous, attempt, **fields)

def _without(inputs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return inputs if not names else {k: v for k, v in inputs.items() if k not in names}


def now() -> datetime:
    return timezone.now()


