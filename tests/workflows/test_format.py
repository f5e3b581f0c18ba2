"""The workflow JSON format: exact round trips, and every import problem with its JSON path."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from workflows.format import ImportErrors, workflow_export, workflow_import
from workflows.models import Action, Trigger, Workflow, WorkflowVersion

BASE = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((BASE / "docs" / "examples").glob("*.json"))

pytestmark = pytest.mark.django_db


def load(name: str = "order-intake.json") -> dict:
    return json.loads((BASE / "docs" / "examples" / name).read_text())


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Workflow, WorkflowVersion, Action, Trigger))


def problems_of(document) -> list[tuple[str, str]]:
    before = counts()
    with pytest.raises(ImportErrors) as caught:
        workflow_import(document=document)
    assert counts() == before  # nothing written
    return caught.value.problems


def test_there_are_at_least_three_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_export_of_import_is_the_document(path, ops_group):
    document = json.loads(path.read_text())
    version = workflow_import(document=path.read_bytes())
    assert workflow_export(workflow=version.workflow) == document


def test_import_publish_and_export_a_given_version(ops_group):
    first = workflow_import(document=load(), publish=True)
    changed = load()
    changed["note"] = "second"
    changed["actions"][0]["inputs"]["condition"] = "{{ trigger.body.total > 500 }}"
    second = workflow_import(document=changed)
    assert (first.number, first.status) == (1, "published")
    assert (second.number, second.status) == (2, "draft")
    assert workflow_export(workflow=first.workflow, number=1) == load()
    assert workflow_export(workflow=first.workflow, number=2) == changed


def test_reimport_replaces_the_draft_not_the_published_version(ops_group):
    workflow_import(document=load(), publish=True)
    workflow_import(document=load())
    workflow_import(document=load())
    assert list(WorkflowVersion.objects.values_list("number", "status").order_by("number")) == [
        (1, "published"), (2, "draft"),
    ]


def test_invalid_json_is_reported_with_line_and_column():
    problems = problems_of(b'{"format": "owlgrid.workflow/v1", "name": }')
    assert problems[0][0] == "$" and "line 1" in problems[0][1]


def test_schema_violations_have_paths(ops_group):
    document = load()
    document["name"] = "Not A Slug"
    document["actions"][0]["children"]["then"][0]["retry"] = {"max_attempts": 0}
    paths = dict(problems_of(document))
    assert "name" in paths
    assert "actions[0].children.then[0].retry.max_attempts" in paths


def test_unknown_action_type_lists_the_known_ones(ops_group):
    document = load()
    document["actions"][0]["children"]["else"][0]["type"] = "teleport"
    ((path, message),) = problems_of(document)
    assert path == "actions[0].children.else[0].type"
    assert "teleport" in message and "http_request" in message


def test_missing_required_input(ops_group):
    document = load()
    body = document["actions"][0]["children"]["then"][0]["children"]["body"][0]
    del body["inputs"]["url"]
    ((path, message),) = problems_of(document)
    assert path == "actions[0].children.then[0].children.body[0].inputs.url"
    assert "required" in message.lower()


def test_bad_expression_syntax(ops_group):
    document = load()
    document["actions"][0]["inputs"]["condition"] = "{{ trigger.body.total > }}"
    ((path, message),) = problems_of(document)
    assert path == "actions[0].inputs.condition" and "syntax" in message


def test_every_problem_is_reported_at_once(ops_group):
    document = load()
    document["actions"][0]["inputs"]["condition"] = "{{ oops( }}"
    document["actions"][1]["inputs"]["status"] = 99
    document["actions"][1]["name"] = "big_order"
    document["triggers"][0]["settings"]["methods"] = ["BREW"]
    paths = [path for path, _ in problems_of(document)]
    assert {"actions[0].inputs.condition", "actions[1].inputs.status", "actions[1].name",
            "triggers[0].settings.methods"} <= set(paths)


def test_a_nesting_bomb_is_refused_without_crashing():
    bomb = "[" * 10_000 + "]" * 10_000
    document = '{"format": "owlgrid.workflow/v1", "name": "bomb", "actions": ' + bomb + "}"
    ((path, message),) = problems_of(document)
    assert path == "$" and "nesting deeper than" in message


def test_deeply_nested_actions_are_refused(ops_group):
    leaf = {"name": "leaf", "type": "log", "inputs": {"message": "x"}}
    node = leaf
    for depth in range(40):
        node = {"name": f"n{depth}", "type": "try", "children": {"try": [node]}}
    problems = problems_of({"format": "owlgrid.workflow/v1", "name": "deep", "actions": [node]})
    assert any("nested deeper than" in message for _, message in problems)


def test_a_20_mb_document_is_refused_before_parsing():
    huge = b'{"format": "owlgrid.workflow/v1", "name": "big", "description": "' + (
        b"x" * 20_000_000) + b'", "actions": []}'
    ((path, message),) = problems_of(huge)
    assert path == "$" and "20.0 MB" in message and "limit" in message


def test_bad_slot_and_bad_cron_and_unknown_group():
    document = load("nightly-report.json")
    document["actions"][0]["children"]["sales"][0]["children"]["finally"] = []
    document["triggers"][0]["settings"]["cron"] = "61 * * * *"
    document["triggers"].append({"name": "hook", "type": "http", "access": {
        "mode": "group", "group": "nobody"}})
    paths = dict(problems_of(document))
    assert "actions[0].children.sales[0].children.finally" in paths
    assert "triggers[0].settings.cron" in paths
    assert "no security group" in paths["triggers[1].access.group"]


def test_secrets_are_referenced_by_name_never_stored(ops_group):
    version = workflow_import(document=load())
    trigger = version.triggers.get(name="new_order")
    assert trigger.access == "hmac"
    assert trigger.settings["hmac_secret_variable"] == "WEBHOOK_SECRET"


def test_requires_lists_referenced_variables(ops_group):
    document = load()
    document["requires"] = {"variables": [], "connections": []}
    version = workflow_import(document=document)
    exported = workflow_export(workflow=version.workflow)
    assert exported["requires"]["variables"] == ["API_BASE"]


def test_export_command_prints_the_document(ops_group):
    workflow_import(document=load("hello-webhook.json"))
    out = StringIO()
    call_command("export_workflow", "hello-webhook", stdout=out)
    assert json.loads(out.getvalue()) == load("hello-webhook.json")


def test_import_command_reports_problems_and_exits_1(tmp_path):
    bad = copy.deepcopy(load("nightly-report.json"))
    bad["actions"][0]["type"] = "teleport"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    done = subprocess.run(
        [sys.executable, "manage.py", "import_workflow", str(path)], cwd=BASE,
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert "actions[0].type: unknown action type 'teleport'" in done.stderr


def test_import_command_imports(tmp_path):
    out = StringIO()
    call_command("import_workflow", str(BASE / "docs/examples/nightly-report.json"),
                 "--publish", stdout=out)
    assert "nightly-report" in out.getvalue()
    assert WorkflowVersion.objects.get().status == "published"


def test_an_http_trigger_without_access_is_refused_with_the_three_choices(environments):
    document = {"format": "owlgrid.workflow/v1", "name": "open-door",
                "triggers": [{"name": "hook", "type": "http", "settings": {}}],
                "actions": [{"name": "hi", "type": "log", "inputs": {"message": "hi"}}]}
    with pytest.raises(ImportErrors) as refused:
        workflow_import(document=document)
    (path, message), = refused.value.problems
    assert path == "triggers[0].access"
    assert all(choice in message for choice in ('"group"', '"hmac"', '"public"'))
    assert not Workflow.objects.filter(name="open-door").exists()


@pytest.mark.parametrize(("raw", "fragment"), [
    (b'{"format": "owlgrid.workflow/v1", "name": "n", "x": ' + b"9" * 4400 + b"}",
     "an integer of 4400 digits"),
    (b'{"format": "owlgrid.workflow/v1", "name": "caf\xe9"}', "not valid UTF-8"),
])
def test_a_malformed_document_is_refused_with_a_short_message(db, raw, fragment):
    before = counts()
    with pytest.raises(ImportErrors) as refused:
        workflow_import(document=raw)
    assert fragment in str(refused.value) and len(str(refused.value)) < 300
    assert counts() == before


def test_a_document_with_thousands_of_problems_lists_the_first_fifty_and_a_count(db):
    actions = [{"name": f"a{index}", "type": "nope", "inputs": {}} for index in range(900)]
    with pytest.raises(ImportErrors) as refused:
        workflow_import(document={"format": "owlgrid.workflow/v1", "name": "many",
                                  "actions": actions})
    assert len(refused.value.problems) == 50 and refused.value.total >= 900
    assert "and 850 more problem(s)" in str(refused.value) and len(str(refused.value)) < 20_000


def test_the_import_command_answers_a_huge_integer_with_a_message_not_a_traceback(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b'{"format": "owlgrid.workflow/v1", "name": "n", "x": ' + b"9" * 4400
                     + b"}")
    done = subprocess.run([sys.executable, "manage.py", "import_workflow", str(path)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "4400 digits" in done.stderr
