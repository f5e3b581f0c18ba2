"""In real Chromium: a run of a 500-item loop keeps its page short (iterations folded under the
loop, a page of them on demand), shows data as JSON, lists blocks (not iterations) in the log
filter, and the loop's status turns "completed" live, without a reload."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from runner import services
from tests.browser.conftest import log_in
from tests.browser.test_builder import SHOTS
from tests.runner.builders import publish_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
VIEWPORT_HEIGHT = 900


def test_a_500_item_loop_stays_on_a_short_page_and_finishes_live(
        browser_page, daphne_server, workers, django_user_model, ops_group):
    user = django_user_model.objects.create_user("watcher", password="watcher-pass-123")
    ops_group.members.add(user)
    workflow, _ = publish_workflow("big-loop", [
        {"name": "each", "type": "for_each", "inputs": {"items": "{{ range(500) | list }}"},
         "children": {"body": [
             {"name": "square", "type": "set_variable",
              "inputs": {"name": "sq", "value": "{{ item * item }}"}},
             {"name": "note", "type": "log", "inputs": {"message": "item {{ item }}"}}]}},
        {"name": "after", "type": "log", "inputs": {"message": "all done"}},
    ])
    workflow.perimeters.add(ops_group)
    page = browser_page
    log_in(page, daphne_server, "watcher", "watcher-pass-123")
    run = services.run_start(workflow=workflow, trigger_type="manual",
                             trigger_input={"body": {"batch": "B-7"}})
    page.goto(f"{daphne_server}/runs/{run.id}/")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    workers.start(1)  # the run starts after the page is open: its end must arrive live

    loop = page.locator('#run-state tr[data-step="each"]')
    expect(loop.locator(".status")).to_have_text("completed", timeout=60000)
    expect(loop.locator(".iterations")).to_contain_text("500 iterations · 1000 completed")
    assert page.evaluate("window.sameDocument") is True
    assert page.locator("#run-state tr.step").count() == 2  # the loop and `after`
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3 * VIEWPORT_HEIGHT, height

    # Blocks, not iterations, in the log filter.
    options = page.locator("#log-step option").all_inner_texts()
    assert {"note", "after"} <= set(options) and len(options) <= 5, options
    assert not any("." in option or "/" in option for option in options), options
    page.select_option("#log-step", "note")
    expect(page.locator("#run-log .line:visible").first).to_contain_text("item 0")

    # Data as JSON.
    trigger_input = page.locator("#run-state .two-columns pre.json").first.inner_text()
    assert json.loads(trigger_input)["body"] == {"batch": "B-7"}

    # A page of iterations on demand, with a navigator.
    loop.locator("a.show-iterations").click()
    expect(page.locator("#run-state nav.pager")).to_contain_text("iterations 1–20 of 500")
    assert page.locator('#run-state tr.step[data-step^="each."]').count() == 40
    page.locator("#run-state nav.pager a[rel=next]").click()
    expect(page.locator("#run-state nav.pager")).to_contain_text("iterations 21–40 of 500")
    expect(page.locator('#run-state tr.step[data-step="each.20/square"]')).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "run-page.png"), full_page=True)
