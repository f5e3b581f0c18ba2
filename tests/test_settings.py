"""Settings come from the environment and refuse bad values loudly, naming the variable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[1]
PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='owlgrid_site.settings'; "
    "django.setup(); from django.conf import settings; "
    "print(settings.SECRET_KEY); print(settings.OWLGRID_SECRETS_KEYS[0]); print(settings.DEBUG)"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "OWLGRID_SECRETS_KEYS", "DEBUG", "DATABASE_URL"}}
    clean.update(OWLGRID_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=BASE, env=clean,
                          capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/owlgrid"),
        ("DATABASE_URL", "garbage"),
        ("REDIS_URL", "http://localhost:6379"),
        ("OWLGRID_SECRETS_KEYS", "not-a-fernet-key"),
        ("SECRET_KEY", "short"),
        ("OWLGRID_WORKERS", "abc"),
        ("OWLGRID_WORKERS", "0"),
        ("OWLGRID_LEASE_SECONDS", "1"),
    ],
)
def test_bad_values_stop_the_process_naming_the_variable(tmp_path, name, value):
    done = start(tmp_path, **{name: value})
    assert done.returncode != 0
    assert name in done.stderr
    assert "ImproperlyConfigured" in done.stderr


def test_keys_are_generated_once_outside_the_repository(tmp_path):
    first = start(tmp_path)
    assert first.returncode == 0, first.stderr
    secret_key, fernet_key, debug = first.stdout.split()
    assert debug == "False"
    for name in ("secret_key", "secrets_keys"):
        path = tmp_path / "var" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = start(tmp_path)
    assert second.stdout.split()[:2] == [secret_key, fernet_key]


def test_debug_is_off_unless_asked(tmp_path):
    assert start(tmp_path, DEBUG="yes").stdout.split()[2] == "True"


@pytest.mark.parametrize(
    "key",
    [
        "not-a-fernet-key",
        "",
        "=" * 44,
        "YWJj",  # base64 of 3 bytes
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",  # 43 characters: bad padding
        "é" * 44,
    ],
)
def test_the_key_check_refuses_what_fernet_refuses(key):
    from cryptography.fernet import Fernet

    from owlgrid_site.envconf import fernet_key_is_valid

    with pytest.raises(ValueError):
        Fernet(key)
    assert not fernet_key_is_valid(key)


def test_the_key_check_accepts_what_fernet_accepts():
    from cryptography.fernet import Fernet

    from owlgrid_site.envconf import fernet_key_is_valid, new_fernet_key

    for key in [new_fernet_key(), Fernet.generate_key().decode()]:
        Fernet(key)
        assert fernet_key_is_valid(key)


def test_settings_do_not_load_cryptography(tmp_path):
    """An idle worker never needs it (docs/performance.md, "Memory"); the first secret does."""
    # redis-py imports the bare `cryptography` package to know whether it is there; that is cheap.
    probe = PROBE + "; import sys; print('cryptography.hazmat.bindings._rust' in sys.modules)"
    clean = {k: v for k, v in os.environ.items() if k != "OWLGRID_SECRETS_KEYS"}
    clean.update(OWLGRID_VAR_DIR=str(tmp_path / "var"))
    done = subprocess.run([sys.executable, "-c", probe], cwd=BASE, env=clean,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "False"


@pytest.mark.parametrize("command", [["manage.py", "check"],
                                     ["-c", "import owlgrid_site.web"]])
@pytest.mark.parametrize(("name", "value"), [("SECRET_KEY", "short"),
                                             ("OWLGRID_WORKERS", "abc")])
def test_commands_and_the_web_server_say_a_bad_setting_in_one_line(tmp_path, command, name,
                                                                   value):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    env.update(OWLGRID_VAR_DIR=str(tmp_path / "var"), **{name: value})
    done = subprocess.run([sys.executable, *command], cwd=BASE, env=env, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("OwlGrid cannot start:") and name in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
