"""The action tree as pages draw it."""

from __future__ import annotations

import pytest

from tests.runner.builders import publish_workflow
from workflows.selectors import version_tree

pytestmark = pytest.mark.django_db


def test_then_comes_before_else_whatever_was_added_first():
    _, version = publish_workflow("branches", [
        {"name": "check", "type": "if", "inputs": {"condition": "true"}, "children": {
            "else": [{"name": "no", "type": "log", "inputs": {"message": "no"}}],
            "then": [{"name": "yes", "type": "log", "inputs": {"message": "yes"}}]}}])
    (check,) = version_tree(version)
    assert list(check["children"]) == ["then", "else"]
