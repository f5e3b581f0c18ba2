"""The web server's command: `python -m owlgrid_site.webserver [Daphne's options] APPLICATION`.

It is Daphne's own command line (same options, same behaviour), with two imports left out that
Daphne makes on start-up but OwlGrid's web process never uses. Both have to be decided before
Daphne is imported, which is why this is a command and not part of `owlgrid_site.web`:

- Twisted's TLS support. Daphne depends on `twisted[tls]`, so Twisted finds pyOpenSSL and
  imports it with service_identity, pyasn1 and cryptography's X.509 layer (≈ 6 MB resident,
  docs/performance.md). OwlGrid serves plain HTTP on a host/port or a UNIX socket behind a
  TLS-terminating proxy (docs/deployment.md). Unless an endpoint (`-e`/`--endpoint`, where
  `ssl:` can be asked for) is given, pyOpenSSL is marked absent (`sys.modules[...] = None`,
  which makes its import raise ImportError) and Twisted runs as it does without its optional
  TLS dependency. With an endpoint, nothing is left out.
- autobahn's NVX accelerators (`AUTOBAHN_USE_NVX`, autobahn's own switch): loading them runs
  cffi's C parser on every start (≈ 1.4 MB resident). They validate and unmask the frames a
  websocket client sends; OwlGrid's consumers only send. An explicit AUTOBAHN_USE_NVX wins.
"""

from __future__ import annotations

import os
import sys

TLS_ONLY_MODULES = ("OpenSSL",)


def asks_for_endpoints(args: list[str]) -> bool:
    return any(arg in {"-e", "--endpoint"} or arg.startswith(("-e", "--endpoint="))
               for arg in args)


def prepare(args: list[str]) -> None:
    """Leave out what the process will not use; call before Daphne (and Twisted) is imported."""
    if not asks_for_endpoints(args):
        for name in TLS_ONLY_MODULES:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    os.environ.setdefault("AUTOBAHN_USE_NVX", "0")


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else args
    prepare(args)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(args)


if __name__ == "__main__":
    main()
