"""A new user builds an HTTP call whose JSON body and headers hold expressions, by clicks and
typing only, in real Chromium; a real worker sends it to a local server, which receives a JSON
object (not a string holding JSON) with each expression's value in its native type."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.browser.test_builder import block, insert
from tests.execution import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_a_json_body_with_expressions_reaches_the_server_as_an_object(
        browser_page, daphne_server, workers, http_peer, member, environments):
    page = browser_page
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    log_in(page, daphne_server, "member", "member-pass-123")
    page.click("text=New workflow")
    page.fill("#id_name", "orders-out")
    page.click("button:has-text('Create and edit')")

    insert(page, "http_request")
    expect(page.locator("#panel h2")).to_contain_text("http_request_1")
    page.fill('#panel [name="in__url"]', http_peer.url + "/orders")
    page.select_option('#panel [name="in__method"]', "POST")
    body = page.locator('#panel [name="in__json"]')
    body.fill('{"order": "{{ trigger.body.id }}", "qty": "{{ trigger.body.qty }}",')
    # The check under the field says the text is not JSON yet, as it is typed.
    expect(page.locator("#check-in__json")).to_contain_text("not valid JSON")
    body.press_sequentially(' "note": "rush {{ trigger.body.id }}"}', delay=5)
    expect(page.locator("#check-in__json")).to_contain_text(
        "Sent as a JSON object of 3 field(s); 3 value(s) come from expressions")

    # Headers are rows of key and value, not a JSON box.
    headers = page.locator('.field[data-field="in__headers"]')
    expect(headers.locator('textarea[name="in__headers"]')).to_be_hidden()
    headers.locator("button.kv-add").click()
    page.get_by_label("Headers: key 1").fill("X-Order")
    page.get_by_label("Headers: value 1").fill("{{ trigger.body.id }}")
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#panel-saved")).to_be_visible()
    sent = page.locator('.field[data-field="in__json"] details.as-sent')
    sent.locator("summary").click()
    expect(sent.locator("pre")).to_contain_text('"order": "{{ trigger.body.id }}"')
    expect(page.get_by_label("Headers: value 1")).to_have_value("{{ trigger.body.id }}")

    page.fill("#sample", '{"id": 7, "qty": 2}')
    page.click("#test-run-button")
    expect(page.locator("#testrun-state")).to_have_text("completed", timeout=30000)
    wait_until(lambda: http_peer.requests, timeout=10)
    request = http_peer.requests[0]
    assert request["headers"]["content-type"] == "application/json"
    assert json.loads(request["body"]) == {"order": 7, "qty": 2, "note": "rush 7"}
    assert request["headers"]["x-order"] == "7"
    expect(block(page, "http_request_1").locator(".result-status")).to_have_text("completed")
