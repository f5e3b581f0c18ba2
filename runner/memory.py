"""The memory ceiling of OwlGrid's long-lived processes: the last wall behind the expression
budgets. Past it, an allocation raises MemoryError in the thread that asked (its step fails)
instead of the kernel's OOM killer choosing a process to kill on a shared machine."""

from __future__ import annotations

import resource

MB = 1024 * 1024


def set_memory_ceiling(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at `megabytes`; 0 leaves it as it is.
    Never raises it above a lower limit set from outside (a container's, ulimit's)."""
    if megabytes <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = megabytes * MB
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
