"""Reads of environments that other apps' pages need (see workflows/environment_chain.py)."""

from __future__ import annotations

from environments.models import Environment, Variable
from workflows.environment_chain import EnvironmentLink


def environment_links() -> list[EnvironmentLink]:
    return [EnvironmentLink(name, label) for name, label in
            Environment.objects.order_by("position").values_list("name", "label")]


def variable_names() -> list[str]:
    return sorted(set(Variable.objects.values_list("name", flat=True)))
