"""Keeps OwlGrid's processes up: each child is restarted when it dies, with backoff, and the
reason is logged; stopping the supervisor stops every child and everything they started.

Each child runs in a process group of its own, so that stopping or replacing it also ends what
it started itself (RQ's scheduler process under a worker), and ends itself should the
supervisor be killed outright (`exit_with_parent`). RQ's `WorkerPool` restarts dead
workers too, but without backoff or the reason of the death, and it cannot run OwlGrid's
sweeper loop beside them; the web server needs the same care as the workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger("owlgrid.supervisor")
FIRST_BACKOFF = 1.0
LONGEST_BACKOFF = 30.0
HEALTHY_AFTER = 60.0  # a child that lived this long starts again without delay
STOP_GRACE = 10.0


@dataclass
class Child:
    """One supervised command: its current process, and when to start it again."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = field(default=0.0)

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(  # noqa: S603 - our own commands
            self.command, env=self.env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        return self.process

    def died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def schedule_restart(self, now: float) -> float:
        """Record the death and return the delay before the next start."""
        lived = now - self.started_at
        delay = 0.0 if lived >= HEALTHY_AFTER else self.backoff
        self.backoff = FIRST_BACKOFF if lived >= HEALTHY_AFTER else min(
            self.backoff * 2, LONGEST_BACKOFF)
        self.restart_at = now + delay
        return delay


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """End this process and its group (RQ's scheduler under a worker) once the process that
    started it is gone: a supervisor killed outright (SIGKILL, a crash) cannot stop its
    children itself, and each of them runs in a process group of its own."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        logger.warning("the supervisor (pid %d) is gone; stopping", parent)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="owlgrid-exit-with-parent", daemon=True).start()


def death_reason(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signal the child's whole process group (the child and what it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


class Supervisor:
    def __init__(self, children: list[Child], *, tick: float = 0.5,
                 on_tick: Callable[[], None] | None = None) -> None:
        self.children = children
        self.tick = tick
        self.on_tick = on_tick
        self.stopping = False

    def request_stop(self, signum: int = 0, frame: object = None) -> None:
        self.stopping = True

    def run(self) -> None:
        """Start every child, keep them up until asked to stop, then stop them all."""
        try:
            for child in self.children:
                child.start()
            while not self.stopping:
                self.check(time.monotonic())
                if self.on_tick is not None:
                    self.on_tick()
                time.sleep(self.tick)
        finally:
            self.stop_all()

    def check(self, now: float) -> None:
        for child in self.children:
            if child.died():
                assert child.process is not None
                signal_group(child.process, signal.SIGKILL)  # what it started goes with it
                delay = child.schedule_restart(now)
                logger.warning("%s (pid %d) %s; starting it again in %.0f s", child.name,
                               child.process.pid, death_reason(child.process.returncode), delay)
                child.process = None
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                process = child.start()
                logger.warning("%s started again (pid %d)", child.name, process.pid)

    def stop_all(self) -> None:
        """SIGTERM every child's group, newest first; SIGKILL what is left after STOP_GRACE."""
        running = [c.process for c in reversed(self.children) if c.process is not None]
        for process in running:
            if process.poll() is None:
                signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            signal_group(process, signal.SIGKILL)  # stragglers, and any grandchild left
            process.wait()
