"""In Chromium: invalid input in each editor form shows a message at the field, saves nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from workflows import services
from workflows.models import Action, Trigger, Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_bad_url_missing_field_bad_cron_refused_publish_and_reserved_name(
        browser_page, daphne_server, member, ops_group, environments):
    workflow, _ = services.workflow_create(name="forms", user=member, perimeters=[ops_group])
    draft = workflow.versions.get()
    call = services.action_add(version=draft, type="http_request")
    services.trigger_add(version=draft, type="schedule")
    page = browser_page
    log_in(page, daphne_server, "member", "member-pass-123")
    page.goto(f"{daphne_server}/workflows/forms/edit/")

    page.locator('#tree li.block[data-name="http_request_1"] a.edit').click()
    page.fill('#panel [name="in__url"]', "ftp:/nowhere")
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#errors-in__url")).to_contain_text("url must be absolute")
    page.fill('#panel [name="in__url"]', "")
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#errors-in__url")).to_contain_text("Field required")
    assert Action.objects.get(id=call.id).inputs == {}

    trigger = page.locator("#triggers form.trigger").first
    trigger.locator('[name$="s__cron"]').fill("61 * * * *")
    trigger.locator("button[type=submit]").click()
    cron_field = page.locator('#triggers form.trigger .field.has-error[data-setting="s__cron"]')
    expect(cron_field.locator(".field-errors")).to_contain_text("cron")
    assert Trigger.objects.get(version=draft).settings["cron"] == "0 * * * *"

    page.click("#publish-button")  # refused: the HTTP call has no URL yet
    expect(page.locator("#versions .errorlist")).to_contain_text(
        "block 'http_request_1' (HTTP request), field URL")
    assert workflow.versions.get().status == "draft"

    page.fill("#sample", "{not json")
    page.click("#test-run-button")
    expect(page.locator("#sample-error")).to_contain_text("Enter valid JSON")

    page.fill("#settings [name=name]", "new")
    page.click("#settings button[type=submit]")
    expect(page.locator("#settings .field.has-error .field-errors")).to_contain_text("reserved")
    assert Workflow.objects.filter(name="forms").exists()
