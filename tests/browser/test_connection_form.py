"""In Chromium: the connection form shows only the chosen kind's fields, and saves that kind."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from environments.models import Connection
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def visible_fields(form) -> set[str]:
    return set(form.locator("input:visible, select:visible").evaluate_all(
        "els => els.map(e => e.name).filter(n => n && n !== 'csrfmiddlewaretoken')"))


def test_each_kind_shows_its_own_fields(browser_page, daphne_server, admin_user, environments):
    page = browser_page
    log_in(page, daphne_server, "admin", "password")
    page.goto(f"{daphne_server}/environments/dev/")
    form = page.locator("#connection-form")
    assert visible_fields(form) == {"name", "kind", "base_url", "auth_type", "username",
                                    "header_name", "health_path", "token", "password",
                                    "header_value"}
    form.locator("[name=kind]").select_option("smtp")
    assert visible_fields(form) == {"name", "kind", "host", "port", "username", "from_email",
                                    "use_tls", "use_ssl", "password"}
    form.locator("[name=kind]").select_option("slack")
    assert visible_fields(form) == {"name", "kind", "api_base", "webhook_url", "bot_token"}

    form.locator("[name=kind]").select_option("smtp")
    form.locator("[name=name]").fill("mail")
    form.locator("[name=host]").fill("smtp.example.test")
    form.locator("[name=port]").fill("2525")
    form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("mail")
    mail = Connection.objects.get(name="mail")
    assert mail.kind == "smtp" and mail.config == {"host": "smtp.example.test", "port": 2525}
