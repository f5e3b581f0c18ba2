"""Environment bindings are re-used between runs (runner.bindings.load_bindings) but every
change to a variable or a connection is seen by the next run."""

from __future__ import annotations

import pytest

from environments import secrets
from environments.models import Connection, Environment, Variable
from runner.bindings import load_bindings
from workflows.taint import Tainted

pytestmark = pytest.mark.django_db


@pytest.fixture
def environment():
    return Environment.objects.get_or_create(name="bind", defaults={"position": 50})[0]


def test_changes_to_variables_and_connections_are_seen_at_once(environment):
    region = Variable.objects.create(environment=environment, name="REGION", value="eu")
    assert load_bindings(environment).env == {"REGION": "eu"}
    region.value = "us"
    region.save()
    assert load_bindings(environment).env == {"REGION": "us"}
    token = Variable.objects.create(environment=environment, name="TOKEN", is_secret=True,
                                    encrypted_value=secrets.encrypt("s3cret"))
    loaded = load_bindings(environment)
    # Expressions get the value marked as the secret it is (workflows/taint.py).
    assert isinstance(loaded.env["TOKEN"], Tainted) and loaded.env["TOKEN"] == "s3cret"
    assert loaded.env["TOKEN"].pieces == (("s3cret", "TOKEN"),)
    assert loaded.secrets == {"TOKEN": "s3cret"}
    token.delete()
    assert "TOKEN" not in load_bindings(environment).env
    Connection.objects.create(environment=environment, name="crm", kind="http",
                              config={"base_url": "https://crm.example"})
    assert load_bindings(environment).connections["crm"].config["base_url"] == \
        "https://crm.example"
    Connection.objects.filter(name="crm").delete()
    assert load_bindings(environment).connections == {}


def test_a_run_cannot_change_what_the_next_run_sees(environment):
    Variable.objects.create(environment=environment, name="REGION", value="eu")
    first = load_bindings(environment)
    first.env["REGION"] = "changed by a run"
    first.secrets["X"] = "y"
    assert load_bindings(environment).env == {"REGION": "eu"}
    assert load_bindings(environment).secrets == {}
