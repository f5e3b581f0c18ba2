"""Shared cast for the whole suite: environments, a security group, users.

`make test` points REDIS_URL at a Redis database of its own (15 by default) so that tests
which flush it never touch a developer's running OwlGrid.

End-to-end tests (real Chromium, killed processes, schemathesis, the getting-started guide) are
marked `e2e`: `pytest -m "not e2e"` is the fast inner loop.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from owlgrid_site.envconf import SQLITE_ENGINE
from tests import databases

pytest_plugins = ["tests.peers", "tests.execution"]


@pytest.fixture
def environments(db):
    from environments.models import Environment

    return {
        name: Environment.objects.create(name=name, label=name.title(), position=index)
        for index, name in enumerate(["dev", "staging", "prod"], start=1)
    }


@pytest.fixture
def ops_group(db, admin_user):
    from access.models import SecurityGroup

    group = SecurityGroup.objects.create(
        name="ops",
        can_view=True,
        can_edit=True,
        can_run=True,
        can_approve=True,
        can_call_triggers=True,
    )
    group.members.add(admin_user)
    return group


@pytest.fixture
def member(db, django_user_model, ops_group):
    """A non-admin user who belongs to the ops group."""
    user = django_user_model.objects.create_user("member", password="member-pass-123")
    ops_group.members.add(user)
    return user


@pytest.fixture
def outsider(db, django_user_model):
    """A user in no security group: sees and may do nothing."""
    return django_user_model.objects.create_user("outsider", password="outsider-pass-123")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_keepdb):
    """One test database per pytest process, so that parallel sessions never collide; what is
    left of it is removed at the end of the session, pass or fail (after pytest-django's own
    teardown), and those of sessions that died are removed at the start (tests/databases.py)."""
    from django.conf import settings

    config = settings.DATABASES["default"]
    test = config.setdefault("TEST", {})
    if config["ENGINE"] == SQLITE_ENGINE:
        path = databases.sqlite_name(settings.VAR_DIR, os.getpid())
        test["NAME"] = str(path)
        databases.remove_stale_sqlite(settings.VAR_DIR)
        yield
        if not django_db_keepdb:
            databases.remove_sqlite(path)
    else:
        test["NAME"] = databases.postgres_name(config["NAME"], os.getpid())
        databases.drop_stale_postgres(config)
        yield
        if not django_db_keepdb:
            databases.drop_postgres(config, test["NAME"])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser/ drives a real Chromium: end to end, by its folder, so that
    a new one is too. The other end-to-end tests carry the mark in their module."""
    browser = Path(__file__).parent / "browser"
    for item in items:
        if browser in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def crm_in_use(environments):
    """An HTTP connection `crm` in dev that a deployed workflow (`uses-crm`) needs."""
    from environments.models import Connection, Deployment
    from workflows.format import workflow_import

    connection = Connection.objects.create(environment=environments["dev"], name="crm",
                                           kind="http", config={"base_url": "https://crm.example"})
    version = workflow_import(document={
        "format": "owlgrid.workflow/v1", "name": "uses-crm",
        "actions": [{"name": "call", "type": "http_request",
                     "inputs": {"connection": "crm", "method": "GET", "url": "/x"}}]},
        publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return connection
