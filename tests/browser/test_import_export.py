"""In Chromium: export a workflow from the editor, import it back from the list page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from workflows import services
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_then_import_with_errors_shown_at_their_path(browser_page, daphne_server,
                                                             member, ops_group, tmp_path):
    workflow, _ = services.workflow_create(name="source", user=member, perimeters=[ops_group])
    log = services.action_add(version=workflow.versions.get(), type="log")
    services.action_update(action=log, inputs={"message": "hello"})
    page = browser_page
    log_in(page, daphne_server, "member", "member-pass-123")

    page.goto(f"{daphne_server}/workflows/source/edit/")
    with page.expect_download() as download:
        page.click("text=Export JSON")
    exported = tmp_path / "source.json"
    download.value.save_as(exported)
    document = json.loads(exported.read_text())
    assert document["name"] == "source" and document["actions"][0]["name"] == "log_1"

    page.goto(f"{daphne_server}/workflows/")
    page.click("text=Import JSON")
    broken = {**document, "name": "copied",
              "actions": [{**document["actions"][0], "inputs": {"message": "{{ oops( }}"}}]}
    page.fill("#id_document", json.dumps(broken))
    page.click("#import-button")
    problem = page.locator('#import-problems li[data-path="actions[0].inputs.message"]')
    expect(problem).to_contain_text("syntax error")
    assert not Workflow.objects.filter(name="copied").exists()

    exported.write_text(json.dumps({**document, "name": "copied"}))
    page.fill("#id_document", "")
    page.set_input_files("#id_file", str(exported))
    page.click("#import-button")
    expect(page.locator(".messages")).to_contain_text("Imported copied as draft v1")
    expect(page.locator('#tree li.block[data-name="log_1"]')).to_be_visible()
