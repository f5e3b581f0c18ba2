"""From a published version to a call that works, in real Chromium, with one button per step:
deploy to the first environment with a version picker, make a token inline, run the curl
command exactly as the page shows it, then promote, fix the failing check through its link,
and promote again."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from environments.models import Deployment, Variable
from tests.browser.conftest import log_in
from tests.browser.test_builder import SHOTS
from workflows.format import workflow_import
from workflows.models import Workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

DOCUMENT = {
    "format": "owlgrid.workflow/v1", "name": "greeter", "description": "", "tags": [],
    "active": True, "concurrency_limit": None, "note": "first",
    "requires": {"variables": [], "connections": []},
    "triggers": [{"name": "webhook", "type": "http",
                  "settings": {"methods": ["POST"], "mode": "sync", "timeout": 10},
                  "access": {"mode": "group", "group": "ops"}}],
    "actions": [{"name": "answer", "type": "respond", "description": "",
                 "inputs": {"status": 200, "body": {"hello": "{{ trigger.body.name }}",
                                                    "base": "{{ env.BIN_BASE }}"}},
                 "retry": {}, "timeout_seconds": None, "continue_on_error": False,
                 "revert": None, "children": {}}],
}


def test_deploy_call_promote_fix_and_promote(browser_page, daphne_server, workers, admin_user,
                                            ops_group, environments):
    curl = shutil.which("curl")
    assert curl, "no `curl` on PATH: apt-get install curl"
    workers.start(1)
    v1 = copy.deepcopy(DOCUMENT)
    workflow_import(document=v1, publish=True)
    v2 = copy.deepcopy(DOCUMENT)
    v2["note"] = "second"
    workflow_import(document=v2, publish=True)
    workflow = Workflow.objects.get(name="greeter")
    workflow.test_sample = {"name": "Ada"}
    workflow.save(update_fields=["test_sample"])
    Variable.objects.create(environment=environments["dev"], name="BIN_BASE",
                            value="https://bins.dev.test")
    page = browser_page
    log_in(page, daphne_server, "admin", "password")

    page.goto(f"{daphne_server}/workflows/greeter/")
    dev = page.locator('#deployments li.stage[data-environment="dev"]')
    expect(dev).to_contain_text("not deployed")
    dev.locator('select[name="version"]').select_option("1")  # not the newest: v1 on purpose
    dev.locator("button", has_text="Deploy to Dev").click()
    expect(page.locator(".messages")).to_contain_text("dev now runs version 1")
    expect(dev.locator(".badge")).to_have_text("v1")
    assert Deployment.objects.get(environment=environments["dev"]).version.number == 1

    hook = page.locator(".hook").first
    hook.locator("button.make-token").click()
    export = page.locator(".hook pre.export").first.inner_text()
    command = page.locator(".hook pre.curl").first.inner_text()
    assert "export OWLGRID_TOKEN=og_" in export and '"name": "Ada"' in command
    called = subprocess.run(["bash", "-c", f"{export}\n{command} --silent --show-error"],  # noqa: S603, S607
                            capture_output=True, text=True, timeout=30, check=False)
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {"hello": "Ada", "base": "https://bins.dev.test"}

    staging = page.locator('#deployments li.stage[data-environment="staging"]')
    staging.locator("button", has_text="Promote v1 to Staging").click()
    failing = page.locator('.checks li[data-check="variables"]')
    expect(failing).to_contain_text("staging lacks or has empty variables: BIN_BASE")
    assert not Deployment.objects.filter(environment=environments["staging"]).exists()
    failing.locator("a.fix", has_text="Set BIN_BASE in staging").click()
    expect(page.locator("#variable-form [name=name]")).to_have_value("BIN_BASE")
    page.fill("#variable-form [name=value]", "https://bins.staging.test")
    page.click("#variable-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Saved BIN_BASE")

    page.goto(f"{daphne_server}/workflows/greeter/")
    staging.locator("button", has_text="Promote v1 to Staging").click()
    expect(page.locator(".messages")).to_contain_text("staging now runs version 1")
    expect(staging.locator(".badge")).to_have_text("v1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "workflow-page.png"), full_page=True)
