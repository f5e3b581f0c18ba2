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

import ctypes
import ctypes.util
import gc

M_ARENA_MAX = -8  # glibc <malloc.h>
ARENAS = 2


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
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    gc.freeze()
