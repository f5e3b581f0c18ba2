"""The web server's command is Daphne's, minus the TLS stack unless an endpoint (where TLS can be
asked for) is given, minus click and the NVX accelerators (and their probe, unless
AUTOBAHN_USE_NVX is set), with autobahn's WAMP-only modules and what the server never calls
loaded on first use, and without column tables in its code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from owlgrid_site.webserver import asks_for_endpoints

BASE = Path(__file__).resolve().parents[2]
PROBE = (
    "import sys; from owlgrid_site.webserver import prepare; prepare(sys.argv[1:]); "
    "import daphne.server; "
    "print(sys.modules.get('OpenSSL') is not None, 'cryptography.x509' in sys.modules)"
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-b", "127.0.0.1", "-p", "8000", "owlgrid_site.web:application"], False),
        (["-u", "/run/owlgrid.sock", "owlgrid_site.web:application"], False),
        (["-e", "ssl:443:privateKey=key.pem", "owlgrid_site.web:application"], True),
        (["--endpoint=ssl:443", "owlgrid_site.web:application"], True),
        (["-essl:443", "owlgrid_site.web:application"], True),
    ],
)
def test_endpoints_are_recognised(args, expected):
    assert asks_for_endpoints(args) is expected


def run_probe(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "AUTOBAHN_USE_NVX"}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=BASE, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_plain_http_leaves_tls_out():
    assert run_probe("-b", "127.0.0.1", "-p", "8000") == ["False", "False"]


def test_an_endpoint_keeps_tls_available():
    assert run_probe("-e", "ssl:8443:privateKey=key.pem") == ["True", "True"]


WAMP_PROBE = (
    "import sys; from owlgrid_site.webserver import prepare; prepare([]); "
    "import daphne.server; "
    "print('cryptography.hazmat.bindings._rust' in sys.modules, 'cbor2._cbor2' in sys.modules); "
    "from autobahn.wamp import auth; import cbor2; "
    "print(len(auth.derive_key('secret', 'salt')) > 0, cbor2.loads(cbor2.dumps([1])) == [1])"
)


def test_wamp_only_modules_load_on_first_use():
    done = subprocess.run([sys.executable, "-c", WAMP_PROBE], cwd=BASE, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "True"]


OPTIONAL_PROBE = (
    "import sys; from owlgrid_site.webserver import prepare; prepare([]); "
    "import daphne.server, httpx; "
    "print(sys.modules['click'] is None, '_cffi_backend' in sys.modules)"
)


def test_click_and_the_nvx_probe_are_left_out():
    env = {k: v for k, v in os.environ.items() if k != "AUTOBAHN_USE_NVX"}
    done = subprocess.run([sys.executable, "-c", OPTIONAL_PROBE], cwd=BASE, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_an_explicit_nvx_setting_keeps_the_probe():
    env = dict(os.environ, AUTOBAHN_USE_NVX="0")
    done = subprocess.run([sys.executable, "-c", OPTIONAL_PROBE], cwd=BASE, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


DJANGO_TEST_PROBE = (
    "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'owlgrid_site.settings'); "
    "from owlgrid_site.webserver import prepare; prepare([]); "
    "from owlgrid_site.web import application; from django.urls import reverse; "
    "from django.test.signals import setting_changed; from django.core import signals; "
    "print(reverse('api:openapi-json'), setting_changed is signals.setting_changed, "
    "'django.test' in sys.modules, 'unittest' in sys.modules); "
    "import django.test; print(django.test.signals.setting_changed is setting_changed)"
)


def test_the_api_loads_without_django_s_test_package_which_still_imports_whole_if_asked():
    """django-ninja imports `django.test.signals`; the command loads that submodule alone."""
    done = subprocess.run([sys.executable, "-c", DJANGO_TEST_PROBE], cwd=BASE,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/api/openapi.json", "True", "False", "False", "True"]


UNCALLED_PROBE = (
    "import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'owlgrid_site.settings'); "
    "from owlgrid_site.webserver import prepare; prepare([]); "
    "from owlgrid_site.web import application; import daphne.server; "
    "import sqlparse, http.cookiejar; "
    "print(*(type(sys.modules[name]).__name__ for name in ('sqlparse', 'http.cookiejar'))); "
    "print(sqlparse.split('select 1; select 2;') == ['select 1;', 'select 2;'], "
    "http.cookiejar.CookieJar().__class__.__name__, type(sys.modules['sqlparse']).__name__)"
)


def test_what_the_server_never_calls_loads_on_first_use_even_when_imported_twice() -> None:
    """sqlparse is imported by two Django modules and again here: it still waits for its first
    use (splitting migrations' SQL scripts), and then works as usual."""
    done = subprocess.run([sys.executable, "-c", UNCALLED_PROBE], cwd=BASE, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_LazyModule", "_LazyModule", "True", "CookieJar", "module"]


def test_the_server_runs_without_column_tables_in_the_same_process(transactional_db: None,
                                                                   redis_conn: object) -> None:
    from tests.execution import start_daphne

    process, _url = start_daphne()  # answers /login/ before it returns
    try:
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert command[1:4] == [b"-X", b"no_debug_ranges", b"-B"]  # -B: no .pyc without them
        assert b"owlgrid_site.webserver" in command
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_an_explicit_setting_keeps_the_column_tables(transactional_db: None,
                                                     redis_conn: object) -> None:
    from tests.execution import start_daphne

    process, _url = start_daphne(PYTHONNODEBUGRANGES="")
    try:
        assert b"no_debug_ranges" not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


SLOW_MODULE = """
import time
with open(__file__ + ".runs", "a") as runs:
    runs.write("x")
time.sleep(0.2)
VALUE = 42
"""


def test_a_lazy_module_runs_once_when_threads_read_it_together(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """Each thread waits for the one running the module's code and then sees all of it."""
    import threading

    from owlgrid_site.webserver import LazyModules

    (tmp_path / "owlgrid_lazy_probe.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", [LazyModules(frozenset({"owlgrid_lazy_probe"})),
                                           *sys.meta_path])
    monkeypatch.delitem(sys.modules, "owlgrid_lazy_probe", raising=False)
    import owlgrid_lazy_probe  # noqa: PLC0415 - registered, not run

    assert not (tmp_path / "owlgrid_lazy_probe.py.runs").exists()
    seen: list[int] = []
    readers = [threading.Thread(target=lambda: seen.append(owlgrid_lazy_probe.VALUE))
               for _ in range(8)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert seen == [42] * 8
    assert (tmp_path / "owlgrid_lazy_probe.py.runs").read_text() == "x"
    monkeypatch.delitem(sys.modules, "owlgrid_lazy_probe")
