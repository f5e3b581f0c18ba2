"""Moving security groups and tokens to the access app keeps every row and every link: members,
tokens, deploy rights and workflow perimeters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("environments", "0002_initial"), ("workflows", "0003_workflow_test_sample"),
          ("runner", "0002_scheduletick")]


@pytest.mark.django_db(transaction=True)
def test_groups_tokens_and_their_links_survive_the_move():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="ana")
    group = old.get_model("environments", "SecurityGroup").objects.create(name="ops",
                                                                           can_edit=True)
    group.members.add(user)
    prod = old.get_model("environments", "Environment").objects.create(name="prod", position=9)
    group.deploy_environments.add(prod)
    old.get_model("environments", "ApiToken").objects.create(
        group=group, name="ci", prefix="abcd1234", token_hash="0" * 64)
    workflow = old.get_model("workflows", "Workflow").objects.create(name="moved")
    workflow.perimeters.add(group)

    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    from access.models import SecurityGroup
    from environments.models import Environment
    from workflows.models import Workflow

    moved = SecurityGroup.objects.get(name="ops")
    assert [u.username for u in moved.members.all()] == ["ana"]
    assert [t.name for t in moved.tokens.all()] == ["ci"]
    assert [e.name for e in moved.deploy_environments.all()] == ["prod"]
    assert list(Environment.objects.get(name="prod").deployer_groups.all()) == [moved]
    assert list(Workflow.objects.get(name="moved").perimeters.all()) == [moved]
