"""Trivial RQ job functions for baselines (importable by workers without bench helpers)."""


def trivial_job(index: int) -> int:
    return index
