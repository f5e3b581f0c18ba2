"""Expression bombs against a real worker under a memory ceiling, with the web server watched
the whole time. For each family: the step fails with the named limit, within twice the time
budget; the worker's peak memory stays under its ceiling; the web server answers a plain page
within 200 ms throughout; and a normal run on the same worker completes afterwards."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from environments.models import Environment
from runner import services
from runner.models import Run, StepEvent
from tests.execution import descendants, wait_for_run
from tests.runner.builders import publish_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
CEILING_MB = 1024
TIME_BUDGET_MS = 1000
SIZE = "size limit of 1,000,000 exceeded"
TIME = f"time limit of {TIME_BUDGET_MS} ms exceeded"
MACRO = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"

FAMILIES = {
    "string repetition": [("{{ 'x' * 10**9 }}", SIZE), ("{{ ('ab' * 600000) + 'c' }}", SIZE)],
    "formatting and padding": [
        ("{{ '%999999999d'|format(1) }}", SIZE), ("{{ '%999999999d' % 1 }}", SIZE),
        ("{{ '{:>999999999}'.format(1) }}", SIZE), ("{{ 'a'.ljust(10**9) }}", SIZE),
        ("{{ 'a'.zfill(10**9) }}", SIZE)],
    "string filters": [
        ("{{ ('a\n' * 1000)|indent(10**7) }}", SIZE), ("{{ 'a'|center(10**9) }}", SIZE),
        ("{{ ('a ' * 1000)|wordwrap(1, wrapstring='x' * 100000) }}", SIZE),
        ("{{ ('a' * 100000)|replace('a', 'b' * 100000) }}", SIZE),
        ("{{ range(100000)|join('x' * 100000) }}", SIZE),
        ("{% set s = 'x' * 900000 %}{{ [s, s]|tojson }}", "size limit of 1,000,000"),
        ("{{ [1]|batch(10**9, 'x')|list }}", SIZE), ("{{ [1]|slice(10**9, 'x')|list }}", SIZE)],
    "list building": [("{{ [1] * 10**9 }}", SIZE), ("{{ range(10**9)|list }}", "range of"),
                      ("{% set s = 'x' * 600000 %}{{ s ~ s }}", SIZE)],
    "nested loops": [("{% for i in range(100000) %}{% for j in range(100000) %}"
                      "{% endfor %}{% endfor %}", TIME),
                     ("{% for i in range(100000) %}{{ 'x' * 900 }}{% endfor %}", SIZE)],
    "macro recursion": [(MACRO + "{{ f(40) }}", TIME),
                        ("{% macro g() %}{{ g() }}{% endmacro %}{{ g() }}", "recursion limit")],
}


class WebWatch:
    """Fetches a plain page over and over, keeping the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url, self.slowest, self.failures = url, 0.0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    ok = client.get(f"{self.url}/login/").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.slowest = max(self.slowest, time.monotonic() - began)
                self.failures += not ok
                self.stop.wait(0.05)

    def __enter__(self) -> WebWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize("family", list(FAMILIES))
def test_an_expression_bomb_fails_its_step_and_harms_nothing_else(family, workers,
                                                                  daphne_server):
    dev = Environment.objects.create(name="dev", position=1,
                                     expression_time_limit_ms=TIME_BUDGET_MS)
    launcher = workers.start(1, OWLGRID_WORKER_MEMORY_MB=str(CEILING_MB))
    normal, normal_version = publish_workflow("normal", [
        {"name": "hello", "type": "set_variable", "inputs": {"name": "x", "value": "{{ 1 + 1 }}"}}])
    wait_for_run(start(dev, normal, normal_version).id, timeout=60)  # the worker is up
    worker_pids = set(descendants(launcher.pid))
    with WebWatch(daphne_server) as web:
        for index, (bomb, limit) in enumerate(FAMILIES[family]):
            workflow, version = publish_workflow(f"bomb-{index}", [
                {"name": "boom", "type": "set_variable", "inputs": {"name": "x", "value": bomb}}])
            run = wait_for_run(start(dev, workflow, version).id, timeout=30)
            assert run.status == "failed", (bomb, run.status)
            failed = StepEvent.objects.get(run=run, step_key="boom", status="failed")
            assert limit in failed.error["message"], (bomb, failed.error)
            assert "block 'boom', field value" in failed.error["message"]
            running = StepEvent.objects.get(run=run, step_key="boom", status="running")
            took = (failed.created_at - running.created_at).total_seconds()
            assert took < 2 * TIME_BUDGET_MS / 1000, (bomb, took)
    assert max(peak_rss_mb(pid) for pid in worker_pids) < CEILING_MB
    assert web.failures == 0 and web.slowest < 0.2, (web.failures, web.slowest)
    after = wait_for_run(start(dev, normal, normal_version).id, timeout=30)
    assert after.status == "completed"
    assert set(descendants(launcher.pid)) == worker_pids  # the same worker, never restarted
    assert not Run.objects.filter(workflow__name__startswith="bomb-", status="running").exists()


def start(environment, workflow, version):
    return services.run_start(workflow=workflow, version=version, environment=environment,
                              trigger_type="manual", trigger_input={"body": {}})
