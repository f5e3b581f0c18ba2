"""Live run logs over websockets: the backlog from the database, then lines as they are written.

The database is the record and the channel layer only the fast path: every message carries the
line's sequence number, so a client that sees a gap (or reconnects with `?after=N`) is sent the
missing lines from the database and never a duplicate.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from runner import selectors
from runner.broadcast import run_group as run_group_name

BACKLOG_BATCH = 1000


class RunLogConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        user = self.scope.get("user")
        allowed = await database_sync_to_async(selectors.user_may_view_run)(user, self.run_id)
        if not allowed:
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.last_seq = max(0, int(query.get("after", ["0"])[0]))
        except ValueError:
            self.last_seq = 0
        await self.channel_layer.group_add(run_group_name(self.run_id), self.channel_name)
        await self.accept()
        await self.send_backlog()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(run_group_name(self.run_id), self.channel_name)

    async def send_backlog(self) -> None:
        while True:
            lines = await database_sync_to_async(selectors.log_lines_after)(
                self.run_id, self.last_seq, BACKLOG_BATCH
            )
            for line in lines:
                await self.send_line(line)
            if len(lines) < BACKLOG_BATCH:
                return

    async def send_line(self, line: dict) -> None:
        await self.send_json({"type": "line", **line})
        self.last_seq = line["seq"]

    async def log_lines(self, event: dict) -> None:
        """Lines published by the runner; those at or before last_seq were already sent."""
        for line in event["lines"]:
            if line["seq"] <= self.last_seq:
                continue
            if line["seq"] > self.last_seq + 1:
                await self.send_backlog()  # a gap: the database has every line
                if line["seq"] <= self.last_seq:
                    continue
            await self.send_line(line)

    async def run_status(self, event: dict) -> None:
        await self.send_json({"type": "status", "status": event["status"]})
