"""docs/getting-started.md, "Or build it in the editor", followed step by step in Chromium:
each bold label of the section is clicked below, and a step added to the guide without its
click here fails `test_every_bold_label_of_the_guide_is_followed`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from runner.models import Run
from tests.browser.conftest import log_in
from tests.browser.test_builder import insert

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
CLICKED = ["New workflow", "Create and edit", "+ Add", "HTTP request", "Save", "Respond",
           "Add trigger", "Save trigger", "Test run", "Publish", "Deploy to",
           "Create a token for ops"]


def section() -> str:
    text = GUIDE.read_text()
    return text.split("## 5. Or build it in the editor")[1].split("\n## ")[0]


def test_every_bold_label_of_the_guide_is_followed():
    assert re.findall(r"\*\*(.+?)\*\*", section()) == [
        "New workflow", "Create and edit", "+ Add", "HTTP request", "Save", "+ Add", "Respond",
        "Save", "Add trigger", "Save trigger", "Test run", "Publish", "Deploy to",
        "Create a token for ops"]
    assert set(re.findall(r"\*\*(.+?)\*\*", section())) == set(CLICKED)


def save_panel(page) -> None:
    page.click("#panel form.action-form button[type=submit]")  # "Save"
    expect(page.locator("#panel-saved")).to_be_visible()


def test_the_editor_walkthrough_works_as_written(browser_page, daphne_server, workers, http_peer,
                                                admin_user, ops_group, environments):
    assert shutil.which("curl"), "no `curl` on PATH: apt-get install curl"
    page = browser_page
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    log_in(page, daphne_server, "admin", "password")  # the guide's user

    # 1.
    page.click("text=New workflow")
    page.fill("#id_name", "order-echo")
    page.click("button:has-text('Create and edit')")
    # 2.
    insert(page, "http_request")  # "+ Add", then "HTTP request"
    expect(page.locator("#panel h2")).to_contain_text("http_request_1")
    page.fill('#panel [name="in__url"]', http_peer.url + "/anything")
    page.select_option('#panel [name="in__method"]', "POST")
    page.fill('#panel [name="in__json"]',
              '{"order": "{{ trigger.body.id }}", "note": "rush {{ trigger.body.id }}"}')
    expect(page.locator("#check-in__json")).to_contain_text("Sent as a JSON object")
    save_panel(page)
    # 3.
    insert(page, "respond")
    expect(page.locator("#panel h2")).to_contain_text("respond_1")
    page.fill('#panel [name="in__body"]', '{"sent": "{{ steps.http_request_1.output.status }}"}')
    save_panel(page)
    # 4.
    page.select_option('#triggers select[name="type"]', "http")
    page.click("#triggers button:has-text('Add trigger')")
    trigger = page.locator("#triggers form.trigger").first
    trigger.locator('[name$="s__mode"]').select_option("sync")
    trigger.locator("button:has-text('Save trigger')").click()
    expect(page.locator("#triggers [role=status]")).to_contain_text("Saved")
    # 5.
    page.fill("#sample", '{"id": 7}')
    page.click("#test-run-button")  # "Test run"
    expect(page.locator("#testrun-state")).not_to_have_text(re.compile("queued|running"),
                                                            timeout=30000)
    run = Run.objects.get(is_test=True)
    assert run.status == "completed", run.error
    assert json.loads(http_peer.requests[0]["body"]) == {"order": 7, "note": "rush 7"}
    # 6.
    page.click("#publish-button")  # "Publish"
    expect(page.locator(".editor-bar h1")).to_contain_text("v1, published")
    page.goto(f"{daphne_server}/workflows/order-echo/")
    page.locator("#deployments button", has_text="Deploy to").first.click()
    page.locator(".hook button.make-token").first.click()  # "Create a token for ops"
    export = page.locator(".hook pre.export").first.inner_text()
    command = page.locator(".hook pre.curl").first.inner_text()
    answer = subprocess.run(["bash", "-c", f"{export}\n{command} --silent --show-error"],  # noqa: S603, S607
                            capture_output=True, text=True, timeout=30, check=False)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {"sent": 200}
