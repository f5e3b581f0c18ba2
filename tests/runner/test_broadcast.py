"""The channel layer's backend is imported at start-up without cryptography unless a layer
encrypts its messages; OwlGrid's secrets can still import cryptography afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parents[2]
PROBE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "owlgrid_site.settings"
import django
from django.conf import settings
django.setup()
if sys.argv[1:] == ["encrypt"]:
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["symmetric_encryption_keys"] = ["k"]
from runner.broadcast import import_layer_backends
import_layer_backends()
import channels_redis.serializers as serializers
print(serializers.Fernet is not None, "cryptography.hazmat.bindings._rust" in sys.modules)
from cryptography.fernet import Fernet
key = Fernet.generate_key()
print(Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x")
"""


def run_probe(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=BASE, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_layer_backend_is_imported_without_cryptography():
    assert run_probe() == ["False", "False", "True"]


def test_a_layer_that_encrypts_gets_cryptography():
    assert run_probe("encrypt") == ["True", "True", "True"]
