"""The runs list's trigger filter: one choice per registered trigger type, each one working."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from runner.models import Run
from runner.selectors import trigger_filter_choices
from tests.runner.builders import publish_workflow
from workflows.triggers import REGISTRY

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs_by_type(ops_group):
    """One run per trigger type, of a workflow the ops group may view."""
    workflow, version = publish_workflow("filtered", [{"name": "note", "type": "log",
                                                       "inputs": {"message": "hi"}}])
    workflow.perimeters.add(ops_group)
    return {type_: Run.objects.create(workflow=workflow, version=version, trigger_type=type_)
            for type_ in REGISTRY}


@pytest.fixture
def client(member):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    return client


def listed_run_ids(client, query: str, **headers: str) -> set[str]:
    page = client.get(f"/runs/{query}", **headers).content.decode()
    return set(re.findall(r"/runs/([0-9a-f-]{36})/", page))


def test_the_filter_menu_lists_every_registered_type(client, runs_by_type):
    assert [value for value, _ in trigger_filter_choices()] == list(REGISTRY)
    page = client.get("/runs/").content.decode()
    select = re.search(r'<select name="trigger" aria-label="Trigger">(.*?)</select>', page, re.S)
    options = re.findall(r'<option value="([^"]*)"', select.group(1))
    assert options == ["", *REGISTRY]


@pytest.mark.parametrize("type_", list(REGISTRY))
def test_filtering_by_each_type_lists_only_its_runs(client, runs_by_type, type_):
    assert listed_run_ids(client, f"?trigger={type_}") == {str(runs_by_type[type_].id)}
    htmx = listed_run_ids(client, f"?trigger={type_}", HTTP_HX_REQUEST="true")
    assert htmx == {str(runs_by_type[type_].id)}


def test_runs_started_by_another_runs_end_can_be_chosen(client, runs_by_type):
    page = client.get("/runs/?trigger=run").content.decode()
    assert '<option value="run" selected>Another run finished</option>' in page
    assert listed_run_ids(client, "?trigger=run") == {str(runs_by_type["run"].id)}


def test_an_unknown_trigger_is_ignored(client, runs_by_type):
    expected = {str(run.id) for run in runs_by_type.values()}
    assert listed_run_ids(client, "?trigger=pigeon") == expected
