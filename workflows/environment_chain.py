"""The environments a workflow can be deployed to, as the workflow pages need them.

Environments are owned by the environments app, which sits above this one: it registers the
providers below when Django starts (`EnvironmentsConfig.ready`), so that workflows imports
nothing above it. Without them (environments not installed) there is no chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentLink:
    name: str
    label: str

    def __str__(self) -> str:
        return self.label or self.name


_chain: Callable[[], list[EnvironmentLink]] = list
_variable_names: Callable[[], list[str]] = list


def provide(*, chain: Callable[[], list[EnvironmentLink]],
            variable_names: Callable[[], list[str]]) -> None:
    global _chain, _variable_names  # noqa: PLW0603 - set once, at start-up
    _chain, _variable_names = chain, variable_names


def environment_chain() -> list[EnvironmentLink]:
    """Every environment, in promotion order."""
    return _chain()


def variable_names() -> list[str]:
    """The names of the variables bound in any environment, sorted."""
    return _variable_names()
