"""In Chromium: a rollback or a restore asks first, and a No changes nothing."""

from __future__ import annotations

import pytest

from environments.models import Deployment, PromotionRecord
from tests.browser.conftest import log_in
from workflows.format import workflow_import
from workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db(transaction=True)
DOCUMENT = {"format": "owlgrid.workflow/v1", "name": "careful", "actions": [
    {"name": "say", "type": "log", "inputs": {"message": "hi"}}]}


def answer_next_dialog(page, accept: bool) -> list[str]:
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return asked


def test_rollback_and_restore_ask_first(browser_page, daphne_server, admin_user, ops_group,
                                        environments):
    version = workflow_import(document=DOCUMENT, publish=True)
    version.workflow.perimeters.add(ops_group)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    page = browser_page
    log_in(page, daphne_server, "admin", "password")

    page.goto(f"{daphne_server}/environments/promote/careful/")
    page.select_option('select[name="target"]', "dev")
    asked = answer_next_dialog(page, accept=False)
    page.click('button[value="rollback"]')
    page.wait_for_timeout(300)  # a refused confirm sends nothing: give it the chance to
    assert asked == ["Roll back dev to the version it ran before?"]
    assert not PromotionRecord.objects.exists()

    drafts = WorkflowVersion.objects.filter(workflow=version.workflow).count()
    page.goto(f"{daphne_server}/workflows/careful/history/")
    asked = answer_next_dialog(page, accept=False)
    page.click("text=restore as draft")
    page.wait_for_timeout(300)
    assert asked == ["Replace the draft with version 1?"]
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == drafts
    asked = answer_next_dialog(page, accept=True)
    with page.expect_navigation():
        page.click("text=restore as draft")
    assert asked and WorkflowVersion.objects.filter(workflow=version.workflow).count() > drafts
