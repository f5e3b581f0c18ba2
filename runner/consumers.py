"""Live runs over websockets: a run's log (backlog, then lines as written) and run statuses.

The database is the record and the channel layer only the fast path. Every line carries its
sequence number, so:
- a client that reconnects with `?after=N` gets exactly the lines after N, from the database;
- a live message whose first number is not the next one (the channel layer dropped messages
  under a burst: its per-channel capacity is finite) makes the consumer send the missing lines
  from the database first, then the rest — never a line twice, never out of order;
- a dropped *last* message (no later one reveals the gap) or a dropped status is caught by the
  reconciliation every RECHECK_SECONDS, which sends whatever the database holds beyond the last
  number sent and the status if it changed.

The right to watch is checked on connect and again every RECHECK_SECONDS against the session
as it is *now* in the database: a user who logged out, changed password, was deactivated or lost
the right is disconnected with close code 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from runner import selectors
from runner.broadcast import RUNS_GROUP, mark_watched
from runner.broadcast import run_group as run_group_name

logger = logging.getLogger("owlgrid.runner")
BACKLOG_BATCH = 1000
RECHECK_SECONDS = 5.0
FORBIDDEN = 4403
FINAL = frozenset({"completed", "failed", "cancelled"})


class GuardedConsumer(AsyncJsonWebsocketConsumer):
    """Checks the right on connect, then keeps checking it while the socket is open."""

    async def allowed(self, user: Any) -> bool:
        return False  # each consumer states the right it needs

    async def join(self, group: str) -> None:
        """Join `group` and mark it watched, so that messages are sent to it (a group nobody
        marks gets none); the guard renews the mark while the socket is open."""
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await mark_watched(group)

    async def start_guard(self) -> None:
        self.guard = asyncio.create_task(self.recheck_forever())

    async def recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            try:
                user = await self.current_user()
                if not await self.allowed(user):
                    await self.close(code=FORBIDDEN)
                    return
                await mark_watched(self.group)
                await self.on_recheck(user)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup must not end the guard
                logger.warning("websocket recheck failed", exc_info=True)

    async def on_recheck(self, user: Any) -> None:
        """Periodic work once the right is confirmed (reconciliation with the database)."""

    async def current_user(self) -> Any:
        """The session's user as the database has it now (logged out → anonymous)."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        return await database_sync_to_async(selectors.session_user)(key)

    async def stop_guard(self) -> None:
        guard = getattr(self, "guard", None)
        if guard is not None:
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard


class RunLogConsumer(GuardedConsumer):
    """`/ws/runs/<id>/?after=N`: the run's lines after N, then live lines and statuses.

    Frames sent: `{"type": "lines", "lines": [{seq, step, level, message, time?}, ...]}` with
    strictly increasing, gapless numbers (lines sent live carry `committed_at` instead of
    `time`), and `{"type": "status", "status": ...}` (once on connect, then on each change; the
    lines written before a status arrive before it).
    """

    async def connect(self) -> None:
        self.run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        self.last_seq = after_from(self.scope)
        self.last_status: str | None = None
        # The guard task and the message handlers both send: one at a time keeps order.
        self.sending = asyncio.Lock()
        if not await self.allowed(self.scope.get("user")):
            await self.close(code=FORBIDDEN)
            return
        # Join the group before reading the backlog: a line committed in between arrives live
        # too and is dropped as already sent, instead of being missed.
        await self.join(run_group_name(self.run_id))
        await self.accept()
        await self.reconcile()
        await self.start_guard()

    async def allowed(self, user: Any) -> bool:
        may_view: bool = await database_sync_to_async(selectors.user_may_view_run)(
            user, self.run_id)
        return may_view

    async def disconnect(self, code: int) -> None:
        await self.stop_guard()
        if hasattr(self, "run_id"):
            await self.channel_layer.group_discard(run_group_name(self.run_id), self.channel_name)

    async def on_recheck(self, user: Any) -> None:
        await self.reconcile()

    async def reconcile(self) -> None:
        """Send what the database holds beyond what this client has: lines, then the status."""
        async with self.sending:
            await self._send_backlog()
            status = await database_sync_to_async(selectors.run_status)(self.run_id)
            if status is not None:
                await self._send_status(status)

    async def _send_backlog(self) -> None:
        while True:
            lines = await database_sync_to_async(selectors.log_lines_after)(
                self.run_id, self.last_seq, BACKLOG_BATCH
            )
            await self._send_lines(lines)
            if len(lines) < BACKLOG_BATCH:
                return

    async def _send_lines(self, lines: list[dict[str, Any]]) -> None:
        """One frame per batch: a burst costs a few frames, not one per line."""
        if lines:
            await self.send_json({"type": "lines", "lines": lines})
            self.last_seq = lines[-1]["seq"]

    async def _send_status(self, status: str) -> None:
        # A live message can lag behind the database read by `reconcile`: never step back
        # from a final status to an older one.
        if status != self.last_status and self.last_status not in FINAL:
            self.last_status = status
            await self.send_json({"type": "status", "status": status})

    async def log_lines(self, event: dict[str, Any]) -> None:
        """Lines published by the runner after commit (`broadcast.log_lines_message`), their
        frame ready-made: forwarded as it is when it follows what this client has; a gap is
        filled from the database first, and lines already sent are left out."""
        async with self.sending:
            if event["last"] <= self.last_seq:
                return
            if event["first"] > self.last_seq + 1:
                await self._send_backlog()
            if event["first"] == self.last_seq + 1:
                await self.send(text_data=event["frame"])
                self.last_seq = event["last"]
            elif event["last"] > self.last_seq:  # overlaps what the database already gave
                lines = json.loads(event["frame"])["lines"]
                await self._send_lines([line for line in lines if line["seq"] > self.last_seq])

    async def run_status(self, event: dict[str, Any]) -> None:
        async with self.sending:
            await self._send_backlog()  # the final lines arrive before the final status
            await self._send_status(event["status"])


class RunsConsumer(GuardedConsumer):
    """`/ws/runs/`: status changes of every run the user may view, for the runs list.

    Every status change goes to one group; each consumer forwards only the runs of workflows
    its user may view (the set is re-read at each recheck, so a lost perimeter stops the flow).
    """

    CACHE_SIZE = 5000

    async def connect(self) -> None:
        self.workflow_of: OrderedDict[str, Any] = OrderedDict()
        user = self.scope.get("user")
        if not await self.allowed(user):
            await self.close(code=FORBIDDEN)
            return
        await self.refresh_visible(user)
        await self.join(RUNS_GROUP)
        await self.accept()
        await self.start_guard()

    async def allowed(self, user: Any) -> bool:
        return bool(user is not None and user.is_authenticated)

    async def on_recheck(self, user: Any) -> None:
        await self.refresh_visible(user)

    async def refresh_visible(self, user: Any) -> None:
        self.visible = await database_sync_to_async(selectors.visible_workflow_ids)(user)

    async def disconnect(self, code: int) -> None:
        await self.stop_guard()
        await self.channel_layer.group_discard(RUNS_GROUP, self.channel_name)

    async def workflow_id(self, run_id: str) -> Any:
        """A run's workflow never changes: remember it rather than query on every status."""
        if run_id not in self.workflow_of:
            self.workflow_of[run_id] = await database_sync_to_async(selectors.run_workflow_id)(
                run_id)
            if len(self.workflow_of) > self.CACHE_SIZE:
                self.workflow_of.popitem(last=False)
        return self.workflow_of[run_id]

    async def run_status(self, event: dict[str, Any]) -> None:
        if self.visible and await self.workflow_id(event["run"]) in self.visible:
            await self.send_json({"type": "status", "run": event["run"],
                                  "status": event["status"]})


def after_from(scope: dict[str, Any]) -> int:
    """`?after=N` (the last number the client holds); anything unreadable means from the start."""
    query = parse_qs(scope.get("query_string", b"").decode())
    try:
        return max(0, int(query.get("after", ["0"])[0]))
    except ValueError:
        return 0
