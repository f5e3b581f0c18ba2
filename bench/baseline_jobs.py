"""Trivial RQ job functions for baselines (importable by workers without bench helpers)."""

JOB = "baseline_jobs.trivial_job"


def trivial_job(index: int) -> int:
    return index


def queue_trivial_jobs(queue, count: int, **options) -> None:
    """Queue `count` trivial jobs in one round trip, so that queueing is not what is timed."""
    with queue.connection.pipeline() as pipe:
        for index in range(count):
            queue.enqueue_call(JOB, args=(index,), pipeline=pipe, **options)
        pipe.execute()
