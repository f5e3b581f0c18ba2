"""A failed browser test leaves a screenshot and the page's HTML, named in the CI log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = "from tests.browser.conftest import browser_page, pytest_runtest_makereport\n"
FAILING = '''
def test_shows_the_wrong_thing(browser_page):
    browser_page.set_content("<h1>Order 42 failed</h1>")
    assert browser_page.inner_text("h1") == "Order 42 completed"


def test_passes(browser_page):
    browser_page.set_content("<h1>fine</h1>")
'''


def test_a_failed_browser_test_saves_a_screenshot_and_names_it_in_the_log(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(FAILING)
    artifacts = tmp_path / "artifacts"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OWLGRID_TEST_ARTIFACTS=str(artifacts))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider",
         "-p", "no:randomly", "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    screenshot = artifacts / "test_shows_the_wrong_thing.png"
    assert f"screenshot: {screenshot}" in result.stdout
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert "Order 42 failed" in (artifacts / "test_shows_the_wrong_thing.html").read_text()
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "test_shows_the_wrong_thing.html", "test_shows_the_wrong_thing.png"]
