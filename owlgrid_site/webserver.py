"""The web server's command: `python -m owlgrid_site.webserver [Daphne's options] APPLICATION`.

It is Daphne's own command line (same options, same behaviour), with imports left out or
deferred that Daphne makes on start-up but OwlGrid's web process never uses. They have to be
decided before Daphne is imported, which is why this is a command and not part of
`owlgrid_site.web`:

- Twisted's TLS support. Daphne depends on `twisted[tls]`, so Twisted finds pyOpenSSL and
  imports it with service_identity, pyasn1 and cryptography's X.509 layer (≈ 6 MB resident,
  docs/performance.md). OwlGrid serves plain HTTP on a host/port or a UNIX socket behind a
  TLS-terminating proxy (docs/deployment.md). Unless an endpoint (`-e`/`--endpoint`, where
  `ssl:` can be asked for) is given, pyOpenSSL is marked absent (`sys.modules[...] = None`,
  which makes its import raise ImportError) and Twisted runs as it does without its optional
  TLS dependency. With an endpoint, nothing is left out.
- autobahn's NVX accelerators (`AUTOBAHN_USE_NVX`, autobahn's own switch): loading them runs
  cffi's C parser on every start (≈ 1.4 MB resident). They validate and unmask the frames a
  websocket client sends; OwlGrid's consumers only send. Switched off, autobahn still probes
  for their compiled modules, which loads cffi's backend (≈ 0.3 MB): those are marked absent
  too. An explicit AUTOBAHN_USE_NVX wins, and then nothing is marked absent.
- click (≈ 1 MB resident), an optional import of autobahn (`autobahn.util`, to colour its
  debug log messages, which Daphne does not show) and of httpx (its command-line client): both
  run as without it. Nothing in the web process needs it (rq's and Django's commands run in
  other processes), so it is marked absent.
- The parts of autobahn's WAMP layer that WebSocket never calls, deferred to their first use
  (≈ 7.5 MB resident). Daphne imports `autobahn.twisted.websocket`; its package
  (`autobahn/twisted/__init__.py`) imports autobahn's WAMP client on the way, whose
  `autobahn.wamp.auth` imports cryptography's Rust bindings (for WAMP-CRA key derivation), and
  `autobahn.wamp.message` imports cbor2 and the generated FlatBuffers classes
  (`autobahn.wamp.message_fbs`) for WAMP payloads. Daphne speaks WebSocket, never WAMP, so
  none of them is called. These three modules are loaded with `importlib.util.LazyLoader`:
  the import binds the module object and its code runs on the first attribute read, so a
  caller that does use one gets the real module (marking them absent is not possible:
  `autobahn.wamp.auth` is a hard import, and without cbor2 autobahn would offer other
  serializers). Any other module is imported as usual.
- `django.test` (≈ 3 MB resident: its test client, test cases, `unittest` with `unittest.mock`,
  `xml.dom`, `wsgiref`), imported only because django-ninja's settings module imports
  `django.test.signals` (for `setting_changed`, Django's own signal re-exported there). That
  one submodule is loaded on its own, from its file, so that importing it does not run the
  package's `__init__` and everything it imports; it only defines signals and their receivers
  and imports nothing from `django.test`. Should the process import `django.test` itself,
  the package is imported as usual and finds its submodule already loaded.
- Modules other packages import at start-up for work the web process never does, loaded on
  first use like the WAMP modules (≈ 1.9 MB resident): sqlparse, which Django's database
  operations and SQLite's introspection import to split and parse SQL scripts (migrations,
  `inspectdb`, run by `manage.py`, never by the server); and `http.cookiejar`, which Twisted
  imports only to re-export it under a deprecated name.

The command also runs with `-X no_debug_ranges` (re-executing itself with it, same process
id): the interpreter then keeps no column table in its ≈ 26,000 code objects (≈ 0.6 MB
resident). A traceback still names each file, line and function; only the `^^^^` markers
under the failing expression are gone. PYTHONNODEBUGRANGES set to anything, an empty value
included (which keeps the tables), is left as given. The process writes no `.pyc` files
(`-B`): one compiled under the flag would lack the tables in every other process too.

A module loaded on first use stays unloaded when it is imported again: CPython 3.11 reads a
module's `__spec__` on every import of it (to see whether it is still being initialised), and
`importlib.util.LazyLoader`'s module runs its code on any attribute read, so sqlparse, imported
by two Django modules, would load on the second. `_LazyModule` answers `__spec__` without
running the module, and runs it under a lock (as Python 3.12's does).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

TLS_ONLY_MODULES = ("OpenSSL",)
NVX_MODULES = ("_nvx_utf8validator", "_nvx_xormasker")
UNUSED_OPTIONAL_MODULES = ("click",)
WAMP_ONLY_MODULES = frozenset({"autobahn.wamp.auth", "autobahn.wamp.message_fbs", "cbor2"})
NOT_CALLED_BY_THE_SERVER = frozenset({"sqlparse", "http.cookiejar"})
SUBMODULES_ON_THEIR_OWN = ("django.test.signals",)


class WrappingFinder(importlib.abc.MetaPathFinder):
    """Finds `names` where the path finder does, each with its loader wrapped by `wrap`."""

    def __init__(self, names: frozenset[str],
                 wrap: Callable[[importlib.abc.Loader], importlib.abc.Loader]) -> None:
        self.names, self.wrap = names, wrap

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = self.wrap(spec.loader)
        return spec


class _LazyModule(ModuleType):
    """A module whose code runs on the first read of any attribute but `__spec__`, once, by one
    thread. `importlib.util.LazyLoader`'s own module also runs on a read of `__spec__`, which
    every `import` statement makes; and on 3.11 it has no lock, so two threads reading at once
    could both run it, or read it half run (the lock below is what 3.12 added)."""

    def __getattribute__(self, attr: str) -> Any:
        spec = object.__getattribute__(self, "__spec__")
        if attr == "__spec__":
            return spec
        state = spec.loader_state
        with state["lock"]:
            if object.__getattribute__(self, "__class__") is _LazyModule:
                if state["running"]:  # the module's own code, on this thread, reading itself
                    return state["__class__"].__getattribute__(self, attr)
                state["running"] = True
                try:
                    _run_lazy_module(self, spec, state)
                finally:  # an error in the module's code: the next read runs it again
                    state["running"] = False
        return getattr(self, attr)

    def __delattr__(self, attr: str) -> None:
        self.__getattribute__("__name__")  # runs the module first
        delattr(self, attr)


def _run_lazy_module(module: ModuleType, spec: ModuleSpec, state: dict[str, Any]) -> None:
    """Run the module's code, keeping what was set on it meanwhile (`import a.b` binds `b`
    on `a`), and make it a plain module."""
    module_dict = state["__class__"].__getattribute__(module, "__dict__")
    before = state["__dict__"]
    set_meanwhile = {key: value for key, value in module_dict.items()
                     if key not in before or before[key] is not value}
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    if sys.modules.get(spec.name, module) is not module:
        raise ValueError(f"module object for {spec.name!r} substituted in sys.modules "
                         "during a lazy load")
    module_dict.update(set_meanwhile)
    module.__class__ = state["__class__"]


class _LazyLoader(importlib.util.LazyLoader):
    """LazyLoader (the wrapped loader's checks, `create_module`) with `_LazyModule`."""

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        module.__spec__.loader_state = {
            "__dict__": module.__dict__.copy(), "__class__": module.__class__,
            "lock": threading.RLock(), "running": False,
        }
        module.__class__ = _LazyModule


class LazyModules(WrappingFinder):
    """Finds `names` where the path finder does, their code run on first attribute access."""

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__(names, _LazyLoader)


def load_on_its_own(name: str) -> None:
    """Register a package's submodule without importing the package (its code runs on first
    attribute access, like `LazyModules`'): `import a.b` finds `a.b` in `sys.modules` and
    never imports `a`. If `a` is imported later, it gets `a.b` as its attribute, as usual."""
    if name in sys.modules:
        return
    top, _, rest = name.partition(".")
    top_spec = importlib.util.find_spec(top)
    if top_spec is None or top_spec.origin is None:
        return
    path = os.path.join(os.path.dirname(top_spec.origin), *rest.split(".")) + ".py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        return
    spec.loader = _LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    sys.meta_path.insert(0, parent_of_loaded(name))


def parent_of_loaded(child: str) -> WrappingFinder:
    """Imports the package of a submodule loaded on its own as usual, then binds the
    submodule to it (the import system binds a submodule to its package only when it loads
    the submodule itself)."""
    parent, _, attribute = child.rpartition(".")
    return WrappingFinder(frozenset({parent}),
                          lambda loader: _BindingLoader(loader, attribute, child))


class _BindingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, attribute: str, child: str) -> None:
        self.loader, self.attribute, self.child = loader, attribute, child

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        setattr(module, self.attribute, sys.modules[self.child])
        self.loader.exec_module(module)

    def __getattr__(self, name: str) -> object:  # get_source, is_package, resources, ...
        return getattr(self.loader, name)


def asks_for_endpoints(args: list[str]) -> bool:
    return any(arg in {"-e", "--endpoint"} or arg.startswith(("-e", "--endpoint="))
               for arg in args)


def absent(names: Sequence[str]) -> None:
    """Make importing these raise ImportError, as if they were not installed."""
    for name in names:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def prepare(args: list[str]) -> None:
    """Leave out what the process will not use; call before Daphne (and Twisted) is imported."""
    if not asks_for_endpoints(args):
        absent(TLS_ONLY_MODULES)
    if "AUTOBAHN_USE_NVX" not in os.environ:
        os.environ["AUTOBAHN_USE_NVX"] = "0"
        absent(NVX_MODULES)
    absent(UNUSED_OPTIONAL_MODULES)
    if not any(isinstance(finder, LazyModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, LazyModules(WAMP_ONLY_MODULES | NOT_CALLED_BY_THE_SERVER))
    for name in SUBMODULES_ON_THEIR_OWN:
        load_on_its_own(name)


def without_column_tables() -> None:
    """Re-execute this command under `-X no_debug_ranges`, unless the flag is given or
    PYTHONNODEBUGRANGES is set and heeded (`PYTHONNODEBUGRANGES=` keeps the markers). `-B`:
    a `.pyc` compiled under the flag has no column tables either, and would take them from
    every other process that loads it."""
    from_environment = not sys.flags.ignore_environment and "PYTHONNODEBUGRANGES" in os.environ
    if "no_debug_ranges" in sys._xoptions or from_environment:
        return
    program, *rest = sys.orig_argv
    os.execv(sys.executable, [program, "-X", "no_debug_ranges", "-B", *rest])  # noqa: S606


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    prepare(args)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(args)


if __name__ == "__main__":
    without_column_tables()
    main()
