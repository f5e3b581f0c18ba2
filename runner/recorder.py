"""A run's pending writes: step events, log lines and the caller's response, buffered and
committed together in one transaction fenced by the run's lease (`journal.commit`).

Batching keeps a burst of lines or a chain of quick steps cheap; the age bound on lines keeps
live viewers close behind. Everything goes through `mask` on its way in, so nothing buffered
holds a secret's value.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from runner import journal
from runner.models import Run
from runner.sealing import shown_text

LOG_FLUSH_LINES = 250
LOG_FLUSH_SECONDS = 0.004


class Recorder:
    def __init__(self, run: Run, worker: str, *, secret_values: list[str],
                 cancelled: threading.Event):
        """`cancelled` is set when a commit finds the run's cancel requested."""
        self.run = run
        self.worker = worker
        self.secret_values = secret_values
        self.cancelled = cancelled
        self.pending_events: list[dict[str, Any]] = []
        self.pending_lines: list[dict[str, Any]] = []
        self.response: dict[str, Any] | None = None
        self.next_seq = run.next_log_seq
        self.lines_since = 0.0
        self.lock = threading.RLock()  # parallel branches record from their own threads

    def event(self, key: str, node: dict, status: str, previous: str | None, attempt: int,
              **fields: Any) -> None:
        with self.lock:
            self.pending_events.append({
                "step_key": key, "action_name": node["name"], "action_type": node["type"],
                "status": status, "previous": previous, "attempt": attempt, **fields,
            })

    def log(self, key: str, level: str, message: str) -> None:
        with self.lock:
            if not self.pending_lines:
                self.lines_since = time.monotonic()
            self.pending_lines.append({"seq": self.next_seq, "step_key": key, "level": level,
                                       "message": self.mask(message)})
            self.next_seq += 1
            due = (len(self.pending_lines) >= LOG_FLUSH_LINES
                   or time.monotonic() - self.lines_since >= LOG_FLUSH_SECONDS)
        if due:
            self.flush()

    def respond(self, answer: dict[str, Any]) -> None:
        self.response = self.mask(answer)

    def flush(self) -> None:
        with self.lock:
            if not self.pending_events and not self.pending_lines and self.response is None:
                return
            pending = self.take_pending()
            if journal.commit(self.run, self.worker, **pending):
                self.cancelled.set()

    def take_pending(self) -> dict[str, Any]:
        """What `flush` would commit, for a write that commits it itself (the run's end)."""
        with self.lock:
            pending = {"events": self.pending_events, "lines": self.pending_lines,
                       "response": self.response}
            self.pending_events, self.pending_lines, self.response = [], [], None
        return pending

    def mask(self, value: Any) -> Any:
        """`value` as people may see it: marked secrets named or hidden (sealing.shown_text),
        then every copy of a secret value, in any encoding, masked."""
        if not self.secret_values:
            return value
        from environments.secrets import mask_value

        return mask_value(shown_text(value), self.secret_values)
