"""Real Chromium (Debian's, never a downloaded one) driven by Playwright."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

# Where a failed browser test leaves its screenshot and HTML; CI prints the paths it gets.
ARTIFACTS = Path(os.environ.get("OWLGRID_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str:
    """Debian's Chromium, found on PATH (apt-get install chromium)."""
    found = shutil.which("chromium")
    assert found, "no `chromium` on PATH: apt-get install chromium fonts-noto-color-emoji"
    return found


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:  # never left set for the tests after this one, whatever happens here
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def save_failure_artifacts(page, name: str) -> list[Path]:
    """A full-page screenshot and the page's HTML, named after the test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^\w-]+", "_", name)
    screenshot, html = stem.with_suffix(".png"), stem.with_suffix(".html")
    page.screenshot(path=str(screenshot), full_page=True)
    html.write_text(page.content())
    return [screenshot, html]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, save what the page showed and name the files in the report."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("browser_page")
    if report.when != "call" or not report.failed or page is None:
        return
    try:
        saved = save_failure_artifacts(page, item.name)
    except Exception as exc:  # a crashed browser must not hide the test's own failure
        report.sections.append(("browser artifacts", f"could not save: {exc!r}"))
        return
    report.sections.append(("browser artifacts", "\n".join(
        f"{kind}: {path}" for kind, path in zip(("screenshot", "html"), saved, strict=True))))


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/workflows/")
