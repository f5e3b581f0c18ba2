"""In Chromium: renaming a block in the panel rewrites later references, shown in the tree."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from workflows import services
from workflows.models import Action

pytestmark = pytest.mark.django_db(transaction=True)


def test_rename_rewrites_references_in_the_tree(browser_page, daphne_server, member, ops_group):
    workflow, _ = services.workflow_create(name="renames", user=member, perimeters=[ops_group])
    draft = workflow.versions.get()
    first = services.action_add(version=draft, type="log")
    later = services.action_add(version=draft, type="log")
    services.action_update(action=first, inputs={"message": "hello"})
    services.action_update(action=later, inputs={"message": "said {{ steps.log_1.output }}"})
    page = browser_page
    log_in(page, daphne_server, "member", "member-pass-123")
    page.goto(f"{daphne_server}/workflows/renames/edit/")

    page.locator('#tree li.block[data-name="log_1"] a.edit').click()
    page.fill('#panel [name="name"]', "greet")
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#panel-saved")).to_be_visible()
    expect(page.locator('#tree li.block[data-name="log_2"] .block-summary')).to_contain_text(
        "steps.greet.output")
    expect(page.locator('#tree li.block[data-name="greet"]')).to_be_visible()
    assert Action.objects.get(id=later.id).inputs == {"message": "said {{ steps.greet.output }}"}
    # The re-rendered tree still takes keyboard moves.
    page.locator('#tree li.block[data-name="log_2"] > .block-head').focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#tree ol.root > li.block").first).to_have_attribute("data-name",
                                                                             "log_2")
