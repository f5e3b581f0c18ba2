"""Reads of execution data, shared by views, the API and websocket consumers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from access.permissions import user_has_workflow_right, workflows_visible_to
from runner.models import LogLine, Run, RunStatus, StepEvent
from runner.sealing import shown
from workflows.triggers import REGISTRY as TRIGGER_TYPES
from workflows.triggers import trigger_choices

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

RUN_KEY = ""  # run-level step events (the journal's RUN_KEY)
FINAL_STEP_STATUSES = {"completed", "failed", "cancelled", "skipped", "reverted"}
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
         "30d": timedelta(days=30)}


# --- log lines ---------------------------------------------------------------------------------


def line_as_dict(line: LogLine) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "step": line.step_key,
        "level": line.level,
        "message": line.message,
        "time": line.created_at.isoformat(),
    }


def log_lines_after(run_id: str, after_seq: int, limit: int, *, step: str = "",
                    block: str = "") -> list[dict[str, Any]]:
    """A page of a run's log; `step` keeps one step key (`loop.3/tick`), `block` every line of
    a block wherever it ran (each iteration of `tick`)."""
    lines = LogLine.objects.filter(run_id=run_id, seq__gt=after_seq)
    if step:
        lines = lines.filter(step_key=step)
    if block:
        lines = lines.filter(Q(step_key=block) | Q(step_key__endswith=f"/{block}"))
    return [line_as_dict(line) for line in lines.order_by("seq")[:limit]]


# --- who may watch -----------------------------------------------------------------------------


def session_user(session_key: str | None) -> User | AnonymousUser:
    """The user a session belongs to *now*, read again from the database.

    A websocket keeps the user loaded at connect; re-reading the session tells a long-lived
    stream that the user logged out (session deleted), changed password (hash no longer
    matches) or was deactivated (the backend refuses inactive users).
    """
    from django.contrib.auth import get_user
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    if not session_key:
        return AnonymousUser()
    store = SessionStore(session_key)
    if not store.exists(session_key):
        return AnonymousUser()
    request = HttpRequest()  # get_user reads only the request's session
    request.session = store
    return get_user(request)


def user_may_view_run(user: Any, run_id: str) -> bool:
    if user is None or not user.is_authenticated:
        return False
    run = Run.objects.select_related("workflow").filter(id=run_id).first()
    return run is not None and user_has_workflow_right(user, run.workflow, "view")


def run_status(run_id: str) -> str | None:
    return Run.objects.filter(id=run_id).values_list("status", flat=True).first()


def visible_workflow_ids(user: Any) -> set[Any]:
    """Ids of the workflows whose runs the user may watch."""
    from workflows.models import Workflow

    if user is None or not user.is_authenticated:
        return set()
    return set(workflows_visible_to(user, Workflow.objects.all()).values_list("id", flat=True))


def run_workflow_id(run_id: str) -> Any:
    return Run.objects.filter(id=run_id).values_list("workflow_id", flat=True).first()


# --- the runs list -----------------------------------------------------------------------------


@dataclass
class RunFilters:
    """The list's filters as given in the query string; unknown values are ignored."""

    workflow: str = ""
    environment: str = ""
    status: str = ""
    trigger: str = ""
    since: str = ""
    start: str = ""  # `from` in the query string: a date or a date and time
    end: str = ""  # `to`
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: Any) -> RunFilters:
        return cls(**{name: query.get(key, "").strip() for name, key in QUERY_KEYS.items()})

    def as_query(self) -> dict[str, str]:
        return {key: getattr(self, name) for name, key in QUERY_KEYS.items() if getattr(self, name)}


def trigger_filter_choices() -> list[tuple[str, str]]:
    """The trigger menu of the runs list: every registered trigger type, (name, label)."""
    return trigger_choices()


QUERY_KEYS = {"workflow": "workflow", "environment": "environment", "status": "status",
              "trigger": "trigger", "since": "since", "start": "from", "end": "to"}


def _moment(text: str, *, end_of_day: bool) -> datetime | None:
    """`2025-01-31` or `2025-01-31T10:00`, in the current time zone; None if unreadable."""
    if not text:
        return None
    try:
        day = parse_date(text)
        if day is not None:
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            parsed = parse_datetime(text)
            if parsed is None:
                return None
            moment = parsed
    except ValueError:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def runs_for_user(user: Any, filters: RunFilters) -> QuerySet[Run]:
    """Runs of the workflows the user may view, newest first, narrowed by the filters."""
    from workflows.models import Workflow

    visible = workflows_visible_to(user, Workflow.objects.all())
    runs = Run.objects.filter(workflow__in=visible).select_related(
        "workflow", "environment", "version").order_by("-created_at")
    if filters.status in RunStatus.values:
        runs = runs.filter(status=filters.status)
    if filters.workflow:
        runs = runs.filter(workflow__name=filters.workflow)
    if filters.environment:
        runs = runs.filter(environment__name=filters.environment)
    if filters.trigger in TRIGGER_TYPES:
        runs = runs.filter(trigger_type=filters.trigger)
    if filters.since in SINCE:
        runs = runs.filter(created_at__gte=timezone.now() - SINCE[filters.since])
    for text, lookup, end_of_day in ((filters.start, "created_at__gte", False),
                                     (filters.end, "created_at__lte", True)):
        moment = _moment(text, end_of_day=end_of_day)
        if moment is not None:
            runs = runs.filter(**{lookup: moment})
        elif text:
            filters.problems.append(f"{text!r} is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    return runs


# --- one run -----------------------------------------------------------------------------------


def run_events(run: Run) -> list[dict[str, Any]]:
    """The run's own status changes (step key ""), oldest first."""
    return [
        {"status": event.status, "at": event.created_at, "worker": event.worker}
        for event in StepEvent.objects.filter(run=run, step_key=RUN_KEY).order_by("id")
    ]


def _parent_key(key: str, known: dict[str, Any]) -> str:
    """`loop.0/child` is a child of `loop`; a key whose parent never started is a root."""
    if "/" not in key:
        return RUN_KEY
    parent = key.rsplit("/", 1)[0]
    while parent and parent not in known:
        parent = parent.rsplit(".", 1)[0] if "." in parent else ""
    return parent


def _tree_order(steps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step right after its parent (depth-first), siblings in the order they started."""
    children: dict[str, list[dict[str, Any]]] = {}
    for step in steps.values():
        children.setdefault(_parent_key(step["key"], steps), []).append(step)
    ordered: list[dict[str, Any]] = []

    def walk(key: str, depth: int) -> None:
        for step in children.get(key, []):
            step["depth"] = depth
            ordered.append(step)
            walk(step["key"], depth + 1)

    walk(RUN_KEY, 0)
    return ordered


def run_steps(run: Run) -> list[dict[str, Any]]:
    """Each step of a run: latest status, attempts, timings, data, in tree order.

    A step's state is its latest event. Its time runs from its first `running` event
    to its last event once final; a step still going is timed until now.
    """
    steps: dict[str, dict[str, Any]] = {}
    for event in StepEvent.objects.filter(run=run).exclude(step_key=RUN_KEY).order_by("id"):
        step = steps.setdefault(event.step_key, {
            "key": event.step_key, "name": event.action_name, "type": event.action_type,
            "depth": 0, "first_at": event.created_at, "started_at": None, "ended_at": None,
            "inputs": None, "output": None, "error": None, "attempts": 0, "events": [],
        })
        step["status"] = event.status
        step["last_at"] = event.created_at
        step["last_id"] = event.id
        if event.status == "running" and step["started_at"] is None:
            step["started_at"] = event.created_at
        step["attempts"] = max(step["attempts"], event.attempt)
        step["events"].append({"status": event.status, "at": event.created_at,
                               "attempt": event.attempt, "worker": event.worker})
        for name in ("inputs", "output", "error"):
            value = getattr(event, name)
            if value is not None:
                step[name] = shown(value)
    now = timezone.now()
    for step in steps.values():
        step["started_at"] = step["started_at"] or step["first_at"]
        step["finished"] = step["status"] in FINAL_STEP_STATUSES
        step["ended_at"] = step["last_at"] if step["finished"] else max(now, step["last_at"])
        step["seconds"] = round((step["ended_at"] - step["started_at"]).total_seconds(), 3)
    return _tree_order(steps)


def timeline(run: Run, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars for the steps: offset and width as percentages of the run's duration."""
    if not steps:
        return []
    start = min([run.started_at or steps[0]["started_at"]]
                + [step["started_at"] for step in steps])
    end = max([run.finished_at or start] + [step["ended_at"] for step in steps])
    total = max((end - start).total_seconds(), 0.001)
    return [
        {
            "step": step,
            "left": round((step["started_at"] - start).total_seconds() / total * 100, 2),
            "width": round(max(0.5, step["seconds"] / total * 100), 2),
            "seconds": step["seconds"],
        }
        for step in steps
    ]


def pending_approvals(run: Run, user: Any,
                      steps: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Approval steps waiting for a decision that this user may make (a member of its group)."""
    if run.status != RunStatus.WAITING or not user.is_authenticated:
        return []
    groups = set(user.security_groups.values_list("name", flat=True))
    return [
        step for step in (steps if steps is not None else run_steps(run))
        if step["type"] == "approval" and step["status"] == "waiting"
        and not ((step["output"] or {}).get("state") or {}).get("decision")
        and (step["inputs"] or {}).get("group") in groups
    ]


def failed_step(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The step a retry resumes at: the one that failed first (its parents failed after it)."""
    failed = [step for step in steps if step["status"] == "failed"]
    return min(failed, key=lambda step: step["last_id"]) if failed else None
