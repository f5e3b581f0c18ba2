"""Live runs over websockets: a run's log (backlog, then lines as written) and run statuses.

The database is the record and the channel layer only the fast path: every line carries its
sequence number, so a client that reconnects with `?after=N` — or a consumer that sees a gap
after the channel layer dropped messages under a burst — gets the missing lines from the
database, never a duplicate. The right to watch is checked on connect and again every few
seconds: a user who logs out or loses the right is disconnected (close code 4403).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from runner import selectors
from runner.broadcast import RUNS_GROUP
from runner.broadcast import run_group as run_group_name

BACKLOG_BATCH = 1000
RECHECK_SECONDS = 5.0
FORBIDDEN = 4403


class GuardedConsumer(AsyncJsonWebsocketConsumer):
    """Closes the socket as soon as the session ends or the right to watch is gone."""

    async def allowed(self) -> bool:
        return False  # each consumer states the right it needs

    async def start_guard(self) -> None:
        self.guard = asyncio.create_task(self.recheck_forever())

    async def recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if not await self.session_alive() or not await self.allowed():
                await self.close(code=FORBIDDEN)
                return

    async def session_alive(self) -> bool:
        session = self.scope.get("session")
        if session is None or not session.session_key:
            return False
        return await database_sync_to_async(session.exists)(session.session_key)

    async def stop_guard(self) -> None:
        guard = getattr(self, "guard", None)
        if guard is not None:
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard


class RunLogConsumer(GuardedConsumer):
    async def connect(self) -> None:
        self.run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        self.last_seq = after_from(self.scope)
        self.sending = asyncio.Lock()
        if not await self.allowed():
            await self.close(code=FORBIDDEN)
            return
        await self.channel_layer.group_add(run_group_name(self.run_id), self.channel_name)
        await self.accept()
        await self.send_backlog()
        await self.start_guard()

    async def allowed(self) -> bool:
        return await database_sync_to_async(selectors.user_may_view_run)(
            self.scope.get("user"), self.run_id
        )

    async def disconnect(self, code: int) -> None:
        await self.stop_guard()
        await self.channel_layer.group_discard(run_group_name(self.run_id), self.channel_name)

    async def send_backlog(self) -> None:
        async with self.sending:
            await self._send_backlog()

    async def _send_backlog(self) -> None:
        while True:
            lines = await database_sync_to_async(selectors.log_lines_after)(
                self.run_id, self.last_seq, BACKLOG_BATCH
            )
            await self.send_lines(lines)
            if len(lines) < BACKLOG_BATCH:
                return

    async def send_lines(self, lines: list[dict]) -> None:
        """One frame per batch: a burst costs a few frames, not one per line."""
        if lines:
            await self.send_json({"type": "lines", "lines": lines})
            self.last_seq = lines[-1]["seq"]

    async def log_lines(self, event: dict) -> None:
        """Lines published by the runner; a gap is filled from the database first."""
        async with self.sending:
            fresh = [line for line in event["lines"] if line["seq"] > self.last_seq]
            if fresh and fresh[0]["seq"] > self.last_seq + 1:
                await self._send_backlog()
                fresh = [line for line in fresh if line["seq"] > self.last_seq]
            await self.send_lines(fresh)

    async def run_status(self, event: dict) -> None:
        async with self.sending:
            await self._send_backlog()  # the final lines arrive before the final status
            await self.send_json({"type": "status", "status": event["status"]})


class RunsConsumer(GuardedConsumer):
    """Status changes of every run the user may view, for the runs list."""

    async def connect(self) -> None:
        if not await self.allowed():
            await self.close(code=FORBIDDEN)
            return
        await self.refresh_visible()
        await self.channel_layer.group_add(RUNS_GROUP, self.channel_name)
        await self.accept()
        await self.start_guard()

    async def allowed(self) -> bool:
        user = self.scope.get("user")
        return bool(user is not None and user.is_authenticated)

    async def refresh_visible(self) -> None:
        self.visible = await database_sync_to_async(selectors.visible_run_filter)(
            self.scope.get("user")
        )

    async def disconnect(self, code: int) -> None:
        await self.stop_guard()
        await self.channel_layer.group_discard(RUNS_GROUP, self.channel_name)

    async def run_status(self, event: dict[str, Any]) -> None:
        if await database_sync_to_async(self.visible)(event["run"]):
            await self.send_json({"type": "status", "run": event["run"],
                                  "status": event["status"]})


def after_from(scope: dict) -> int:
    query = parse_qs(scope.get("query_string", b"").decode())
    try:
        return max(0, int(query.get("after", ["0"])[0]))
    except ValueError:
        return 0
