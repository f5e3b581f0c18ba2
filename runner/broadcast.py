"""Live messages for websocket viewers, sent after commit (the database stays the record)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("owlgrid.runner")
BATCH = 500


def run_group(run_id: Any) -> str:
    return f"run-{run_id}"


RUNS_GROUP = "runs"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001 - viewers catch up from the database on reconnect
        logger.warning("live broadcast to %s failed", group, exc_info=True)


def log_lines_on_commit(run_id: Any, lines: list[dict[str, Any]]) -> None:
    payload = [
        {
            "seq": line["seq"],
            "step": line.get("step_key", ""),
            "level": line.get("level", "info"),
            "message": line["message"],
        }
        for line in lines
    ]

    def send() -> None:
        for start in range(0, len(payload), BATCH):
            _send(run_group(run_id), {"type": "log.lines", "lines": payload[start : start + BATCH]})

    transaction.on_commit(send)


def run_status_on_commit(run: Any) -> None:
    message = {"type": "run.status", "run": str(run.id), "status": run.status}

    def send() -> None:
        _send(run_group(run.id), message)
        _send(RUNS_GROUP, message)

    transaction.on_commit(send)


def run_response_on_commit(run_id: Any) -> None:
    """Tell a waiting synchronous HTTP trigger that the run's `respond` action answered."""

    def send() -> None:
        _send(f"response-{run_id}", {"type": "run.response", "run": str(run_id)})

    transaction.on_commit(send)
