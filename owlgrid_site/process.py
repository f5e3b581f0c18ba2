"""Process hygiene for long-lived OwlGrid processes (Daphne, RQ workers), applied after start-up.

- glibc gives each thread that allocates its own malloc arena (up to 8 × cores); Daphne's
  thread pool and the workers' heartbeat threads would each keep one mostly empty. Two arenas
  are plenty for processes that do their work on one or two threads at a time (the same as
  MALLOC_ARENA_MAX=2, applied here so that it holds however the process was launched).
- Start-up garbage (import machinery, compiled regexes, settings parsing) is collected and the
  freed heap handed back to the OS (`malloc_trim`).
- What start-up built lives for the whole process: `gc.freeze()` moves it to the permanent
  generation, so the collector stops walking tens of thousands of module objects on every
  full collection (pauses that showed up as tail latency on live logs).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import gc
import os
import sys

M_ARENA_MAX = -8  # glibc <malloc.h>
ARENAS = 2
# A thread waiting for I/O (the live-broadcast loop, Daphne's reactor) gets the GIL back from a
# busy thread only at the switch interval: 5 ms by default, paid on every Redis reply.
SWITCH_INTERVAL_SECONDS = 0.0005


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and other C libraries have no mallopt/malloc_trim: nothing to tune there.
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


def limit_malloc_arenas() -> None:
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def settle_after_startup() -> None:
    """Call once everything a process needs for its whole life is imported."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    gc.freeze()


def profile_if_asked(name: str) -> None:
    """OWLGRID_PROFILE_DIR=path: profile this process's main thread (cProfile) until it exits,
    into path/<name>-<pid>.prof. For measuring (docs/performance.md), off by default.
    OWLGRID_PROFILE_CLOCK=cpu: count the main thread's CPU time (`time.thread_time`) instead of
    wall time, so that waits for Redis, the database or the interpreter lock do not show."""
    directory = os.environ.get("OWLGRID_PROFILE_DIR")
    if not directory:
        return
    import cProfile
    import time

    cpu = os.environ.get("OWLGRID_PROFILE_CLOCK", "wall") == "cpu"
    profile = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()

    def dump() -> None:
        profile.disable()
        profile.dump_stats(os.path.join(directory, f"{name}-{os.getpid()}.prof"))

    atexit.register(dump)
    profile.enable()
