"""In real Chromium against Daphne and a real worker: build, publish, test-run, move, diff, restore.

Starting from an empty workflow, the tree is built only by clicks and typing:
if_1 { then: [for_each_1 { body: [http_request_1] }], else: [log_1] }, then log_2.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.execution import wait_until
from workflows.models import Action, WorkflowVersion

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
# README's pictures are refreshed on purpose (`make screenshots`), never as a side effect of tests.
SHOTS = ROOT / ("docs/screenshots" if os.environ.get("OWLGRID_UPDATE_SCREENSHOTS") == "1"
                else "test-artifacts/screenshots")
SCREENSHOT = SHOTS / "editor.png"
DIFF_SCREENSHOT = SHOTS / "diff.png"
NAME = "builder-demo"


def block(page: Page, name: str):
    return page.locator(f'#tree li.block[data-name="{name}"]')


def insert(page: Page, type_: str, *, into: str = "", slot: str = "") -> None:
    """Open the palette of a slot (or of the top level) and pick a type."""
    if into:
        palette = block(page, into).locator(
            f':scope > .block-slots > .slot[data-slot="{slot}"] > details.palette')
    else:
        palette = page.locator("#tree > details.palette")
    palette.locator("summary").click()
    palette.locator(f'button[data-type="{type_}"]').click()


def configure(page: Page, name: str, **fields: str) -> None:
    """Fill the side panel opened for the new block and save it."""
    expect(page.locator("#panel h2")).to_contain_text(name)
    for field, value in fields.items():
        page.fill(f'#panel [name="in__{field}"]', value)
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#panel-saved")).to_be_visible()


def drag(page: Page, source, target) -> None:
    """A mouse drag (SortableJS runs in fallback mode, driven by real pointer events)."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + 12, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 16, start["y"] + start["height"] / 2 + 6, steps=4)
    page.mouse.move(end["x"] + 14, end["y"] + end["height"] * 0.7, steps=25)
    page.mouse.move(end["x"] + 16, end["y"] + end["height"] * 0.8, steps=5)
    page.mouse.up()


def draft_place(name: str) -> tuple[str, str, int] | None:
    """Where the draft has the block; None before the first change makes the draft."""
    action = Action.objects.select_related("parent").filter(
        version__workflow__name=NAME, version__status="draft", name=name).first()
    if action is None:
        return None
    return (action.parent.name if action.parent else "", action.slot, action.position)


def shape(version: WorkflowVersion) -> list:
    return sorted((a.name, a.parent.name if a.parent else "", a.slot, a.position)
                  for a in version.actions.select_related("parent"))


def test_build_publish_test_run_move_diff_restore(browser_page, daphne_server, workers, http_peer,
                                                 member, environments):
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    workers.start(1, OWLGRID_OUTBOUND_ALLOWLIST="127.0.0.1")
    log_in(page, daphne_server, "member", "member-pass-123")

    page.click("text=New workflow")
    page.fill("#id_name", NAME)
    page.click("button:has-text('Create and edit')")
    expect(page.locator(".editor-bar h1")).to_contain_text("draft v1")

    insert(page, "if")
    configure(page, "if_1", condition="{{ trigger.body.go }}")
    insert(page, "for_each", into="if_1", slot="then")
    configure(page, "for_each_1", items="{{ trigger.body.items }}")
    insert(page, "http_request", into="for_each_1", slot="body")
    configure(page, "http_request_1", url=http_peer.url + "/items/{{ item }}")
    insert(page, "log", into="if_1", slot="else")
    configure(page, "log_1", message="nothing to do")
    insert(page, "log")
    configure(page, "log_2", message="done with {{ trigger.body.items | length }} items")
    expect(block(page, "http_request_1").locator(".block-summary")).to_contain_text(
        "GET http://127.0.0.1")

    # A syntax error is flagged as you type, and saving it is refused at the field.
    block(page, "log_1").locator("a.edit").click()
    expect(page.locator("#panel h2")).to_contain_text("log_1")
    page.fill('#panel [name="in__message"]', "{{ oops(")
    page.locator('#panel [name="in__message"]').press_sequentially(" }}", delay=30)
    expect(page.locator("#check-in__message")).to_contain_text("syntax error")
    page.click("#panel form.action-form button[type=submit]")
    expect(page.locator("#errors-in__message")).to_contain_text("syntax error")
    assert Action.objects.get(name="log_1").inputs == {"message": "nothing to do"}

    page.fill("#publish-note", "first cut")
    page.click("#publish-button")
    expect(page.locator(".editor-bar h1")).to_contain_text("draft v2")
    expect(page.locator('#versions li[data-version="1"]')).to_contain_text("first cut")
    # Publishing reloads the editor: let it settle before typing into it (a click could race
    # with the reload's last swaps).
    page.wait_for_load_state("networkidle")

    page.fill("#sample", '{"go": true, "items": [1, 2]}')
    page.click("#test-run-button")
    expect(page.locator("#testrun-state")).to_have_text("completed", timeout=30000)
    http_result = block(page, "http_request_1").locator(":scope > .block-result")
    expect(http_result.locator(".result-status")).to_have_text("completed")
    expect(http_result).to_contain_text("×2")
    expect(http_result.locator(".result-preview")).to_contain_text('"status": 200')
    expect(block(page, "log_2").locator(":scope > .block-result")).to_contain_text(
        "done with 2 items")
    assert sorted(r["path"] for r in http_peer.requests) == ["/items/1", "/items/2"]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Drag and drop: log_2 from the top level into if_1's else, after log_1.
    drag(page, block(page, "log_2").locator(":scope > .block-head"),
         block(page, "log_1").locator(":scope > .block-head"))
    wait_until(lambda: draft_place("log_2") == ("if_1", "else", 1), timeout=10)
    expect(block(page, "if_1").locator('.slot[data-slot="else"] li.block')).to_have_count(2)
    expect(page.locator(".editor.busy")).to_have_count(0)
    # The re-rendered tree gets the test run's results back from runner.
    expect(http_result.locator(".result-status")).to_have_text("completed")
    http_result.locator("details > summary").click()
    expect(http_result.locator(".result-output")).to_be_visible()

    # Keyboard: http_request_1 out of the loop, up above it, into its body, and out again.
    block(page, "http_request_1").locator(":scope > .block-head").focus()
    expect(block(page, "http_request_1").locator(":scope > .block-head")).to_be_focused()
    for key, place in [("Alt+ArrowLeft", ("if_1", "then", 1)),
                       ("Alt+ArrowUp", ("if_1", "then", 0)),
                       ("Alt+ArrowRight", ("for_each_1", "body", 0)),
                       ("Alt+ArrowLeft", ("if_1", "then", 1))]:
        page.keyboard.press(key)
        wait_until(lambda place=place: draft_place("http_request_1") == place, timeout=10)
        parent, slot, position = place
        expect(block(page, parent).locator(
            f':scope > .block-slots > .slot[data-slot="{slot}"] > ol > li.block').nth(position)
        ).to_have_attribute("data-name", "http_request_1")
        expect(page.locator(".editor.busy")).to_have_count(0)
        expect(block(page, "http_request_1").locator(":scope > .block-head")).to_be_focused()

    # Keyboard across slots: log_2 up out of else into the end of then, and back down.
    block(page, "log_2").locator(":scope > .block-head").focus()
    for key, place in [("Alt+ArrowUp", ("if_1", "else", 0)),
                       ("Alt+ArrowUp", ("if_1", "then", 2)),
                       ("Alt+ArrowDown", ("if_1", "else", 0)),
                       ("Alt+ArrowDown", ("if_1", "else", 1))]:
        page.keyboard.press(key)
        wait_until(lambda place=place: draft_place("log_2") == place, timeout=10)
        expect(page.locator(".editor.busy")).to_have_count(0)
        expect(block(page, "log_2").locator(":scope > .block-head")).to_be_focused()

    # The result details opened before the moves stayed open through every re-render.
    expect(http_result.locator(".result-output")).to_be_visible()

    # Collapse hides a block's slots, and it stays collapsed across reloads; expand again.
    loop = block(page, "for_each_1")
    loop.locator(":scope > .block-head button.collapse").click()
    expect(loop.locator(":scope > .block-slots")).to_be_hidden()
    page.reload()
    expect(loop.locator(":scope > .block-slots")).to_be_hidden()
    expect(loop.locator(":scope > .block-head button.collapse")).to_have_attribute(
        "aria-expanded", "false")
    loop.locator(":scope > .block-head button.collapse").click()
    expect(loop.locator(":scope > .block-slots")).to_be_visible()

    page.fill("#publish-note", "moved things")
    page.click("#publish-button")
    expect(page.locator(".editor-bar h1")).to_contain_text("draft v3")

    page.goto(f"{daphne_server}/workflows/{NAME}/diff/?a=1&b=2")
    moved = page.locator(".diff-moved")
    expect(moved).to_contain_text("log_2: from top level, position 2 to if_1.else, position 2")
    expect(moved).to_contain_text("http_request_1: from for_each_1.body, position 1 "
                                  "to if_1.then, position 2")
    expect(page.locator(".diff-added")).to_have_count(0)
    tree = page.locator(".diff-tree")
    expect(tree.locator('li[data-name="log_2"] > .diff-head .diff-badge.moved')).to_contain_text(
        "moved from top level")
    expect(tree.locator('li[data-name="if_1"] li[data-name="http_request_1"]')).to_be_visible()
    expect(tree.locator(".diff-node .diff-badge.added")).to_have_count(0)
    page.locator(".diff-tree").screenshot(path=str(DIFF_SCREENSHOT))

    page.goto(f"{daphne_server}/workflows/{NAME}/edit/")
    page.locator('#versions li[data-version="1"] button.restore').click()
    expect(page.locator(".messages")).to_contain_text("Version 1 restored as draft 3")
    versions = {v.number: v for v in WorkflowVersion.objects.filter(workflow__name=NAME)}
    assert shape(versions[3]) == shape(versions[1])
    expect(block(page, "for_each_1").locator('.slot[data-slot="body"]')).to_contain_text(
        "http_request_1")

    # The list shows the last run (from runner) and filters as you type.
    page.goto(f"{daphne_server}/workflows/")
    row = page.locator("#workflow-rows tr", has=page.locator(f'a:text-is("{NAME}")'))
    expect(row.locator(".last-run")).to_contain_text("completed")
    page.fill('input[name="q"]', "no-such-flow")
    expect(page.locator("#workflow-rows")).to_contain_text("No workflow matches")
    page.fill('input[name="q"]', "builder")
    expect(row).to_be_visible()
