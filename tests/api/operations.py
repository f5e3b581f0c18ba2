"""Every operation the API declares, for tests about how django-ninja built them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from owlgrid_site.api import api


def declared_operations() -> Iterator[Any]:
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            yield from path_view.operations
