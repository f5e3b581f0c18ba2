"""The web process's executors of synchronous runs (runner/inline.py)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from runner import inline


def test_a_run_after_another_reuses_the_idle_thread():
    executors = inline.Executors(name="test-inline")
    seen = []
    for _ in range(3):
        done = threading.Event()
        executors.submit(lambda done=done: (seen.append(threading.current_thread()), done.set()))
        assert done.wait(5)
    assert len(set(seen)) == 1 and seen[0].daemon  # a stopping server never waits for a run


def test_runs_at_the_same_time_each_start_at_once_on_a_thread_of_their_own():
    executors = inline.Executors(name="test-inline")
    release, started, names = threading.Event(), threading.Barrier(4, timeout=5), set()

    def job():
        names.add(threading.current_thread().name)
        started.wait()  # the three jobs and the test meet, or this times out
        release.wait(5)

    for _ in range(3):
        executors.submit(job)
    started.wait()
    release.set()
    assert len(names) == 3


@pytest.mark.django_db(transaction=True)
def test_a_thread_keeps_its_sqlite_connection_between_runs_and_pools_postgresql_ones():
    executors = inline.Executors(name="test-inline")
    connections = []

    def job(done):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        connections.append(connection.connection)
        inline.release_connection()
        done.set()

    for _ in range(2):
        done = threading.Event()
        executors.submit(lambda done=done: job(done))
        assert done.wait(5)
    if connection.vendor == "sqlite":
        assert connections[0] is connections[1]  # opening one cost 1.2 ms per run
    else:
        assert connections[1] is not None
