"""In real Chromium: a run's log lines appear live, then its final status, without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from runner import services
from tests.browser.conftest import log_in
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_lines_and_final_status_arrive_live(browser_page, daphne_server, workers,
                                                django_user_model, ops_group):
    user = django_user_model.objects.create_user("watcher", password="watcher-pass-123")
    ops_group.members.add(user)
    workflow, _ = publish_workflow("slow-talker", [
        {"name": "first", "type": "log", "inputs": {"message": "first line"}},
        {"name": "pause1", "type": "wait", "inputs": {"seconds": 1.5}},
        {"name": "second", "type": "log", "inputs": {"message": "second line"}},
        {"name": "pause2", "type": "wait", "inputs": {"seconds": 1.5}},
        {"name": "third", "type": "log", "inputs": {"message": "third line"}},
    ])
    workflow.perimeters.add(ops_group)
    page = browser_page
    log_in(page, daphne_server, "watcher", "watcher-pass-123")
    workers.start(1)
    run = services.run_start(workflow=workflow, trigger_type="manual")
    page.goto(f"{daphne_server}/runs/{run.id}/")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    log = page.locator("#run-log")
    expect(log).to_contain_text("first line", timeout=15000)
    expect(log).not_to_contain_text("third line")
    expect(log).to_contain_text("second line", timeout=15000)
    expect(log).to_contain_text("third line", timeout=15000)
    expect(page.locator("#run-status")).to_have_text("completed", timeout=15000)
    lines = page.locator("#run-log .line")
    assert lines.evaluate_all("rows => rows.map(r => r.querySelector('.seq').textContent)") == [
        "1", "2", "3"]
    # The step tree was re-rendered live too: every step completed, still the same document.
    expect(page.locator('#run-state tr[data-step="third"] .status')).to_have_text(
        "completed", timeout=15000)
    assert page.evaluate("window.sameDocument") is True
    page.select_option("#log-step", "second")
    expect(page.locator("#run-log .line:visible")).to_have_count(1)
    expect(page.locator("#run-log .line:visible")).to_contain_text("second line")
