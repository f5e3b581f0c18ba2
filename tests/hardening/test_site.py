"""Attack: the site's own defences — deploy checks, clickjacking, CSRF, login brute force."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

BASE = Path(__file__).resolve().parents[2]


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = dict(os.environ, DEBUG="false", OWLGRID_HTTPS="true",
               SECRET_KEY=secrets.token_urlsafe(60), OWLGRID_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level",
                           "WARNING"], cwd=BASE, env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.django_db
def test_pages_refuse_framing(admin_user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin_user)
    assert client.get("/workflows/")["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_forms_need_the_csrf_token(admin_user, environments):
    client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/environments/dev/variables/", {"name": "A", "value": "1"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_login_attempts_are_rate_limited(django_user_model, redis_conn):
    django_user_model.objects.create_user("target", password="the-right-password-1")
    client = Client(HTTP_HOST="127.0.0.1")
    for _ in range(10):
        assert client.post("/login/", {"username": "target", "password": "wrong"}
                           ).status_code == 200
    refused = client.post("/login/", {"username": "target", "password": "the-right-password-1"})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.content.decode()
