"""Shared cast for the whole suite: environments, a security group, users.

Tests use their own Redis database (15 by default) so that flushing it never touches a
developer's running OwlGrid; set OWLGRID_TEST_REDIS_URL to point elsewhere.
"""

from __future__ import annotations

import os

os.environ["REDIS_URL"] = os.environ.get("OWLGRID_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("OWLGRID_LEASE_SECONDS", "4")

import pytest  # noqa: E402


@pytest.fixture
def environments(db):
    from environments.models import Environment

    return {
        name: Environment.objects.create(name=name, label=name.title(), position=index)
        for index, name in enumerate(["dev", "staging", "prod"], start=1)
    }


@pytest.fixture
def ops_group(db, admin_user):
    from environments.models import SecurityGroup

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
