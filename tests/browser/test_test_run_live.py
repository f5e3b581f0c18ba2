"""In Chromium: a test run's results appear on the blocks one by one while it runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from workflows import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_block_results_update_live_during_a_test_run(browser_page, daphne_server, workers,
                                                    member, ops_group, environments):
    workflow, _ = services.workflow_create(name="slow-test", user=member,
                                           perimeters=[ops_group])
    draft = workflow.versions.get()
    for type_, inputs in [("log", {"message": "hello {{ trigger.body.who }}"}),
                          ("wait", {"seconds": 2}),
                          ("log", {"message": "bye"})]:
        action = services.action_add(version=draft, type=type_)
        assert services.action_update(action=action, inputs=inputs) == {}
    workers.start(1)
    page = browser_page
    log_in(page, daphne_server, "member", "member-pass-123")
    page.goto(f"{daphne_server}/workflows/slow-test/edit/")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    page.fill("#sample", '{"who": "ada"}')
    page.click("#test-run-button")
    first = page.locator('#tree li.block[data-name="log_1"] > .block-result')
    last = page.locator('#tree li.block[data-name="log_2"] > .block-result')
    expect(first.locator(".result-status")).to_have_text("completed", timeout=20000)
    expect(first.locator(".result-preview")).to_contain_text("hello ada")
    expect(page.locator("#testrun-state")).not_to_have_text("completed")
    expect(last.locator(".result-status")).to_have_text("not_started")  # not reached yet
    expect(last.locator(".result-status")).to_have_text("completed", timeout=20000)
    expect(page.locator("#testrun-state")).to_have_text("completed")
    assert page.evaluate("window.sameDocument") is True

    # The sample is kept with the workflow: it is there on the next visit.
    page.reload()
    expect(page.locator("#sample")).to_have_value('{\n  "who": "ada"\n}')
