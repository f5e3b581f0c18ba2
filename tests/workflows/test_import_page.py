"""The import page: upload or paste a document; problems shown at their JSON path, nothing saved."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from workflows import services
from workflows.format import workflow_export
from workflows.models import Action, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db
URL = reverse("workflows:import")


def document(name: str = "imported", url: str = "https://example.com/items") -> dict:
    return {
        "format": "owlgrid.workflow/v1", "name": name, "description": "From a file",
        "tags": ["io"], "triggers": [{"name": "by_hand", "type": "manual"}],
        "actions": [
            {"name": "fetch", "type": "http_request", "inputs": {"method": "GET", "url": url}},
            {"name": "say", "type": "log", "inputs": {"message": "{{ steps.fetch.output }}"}},
        ],
    }


@pytest.fixture
def editor(client, member):
    client.force_login(member)
    return client


def test_the_list_links_to_the_import_page(editor):
    assert URL in editor.get(reverse("workflows:list")).content.decode()
    page = editor.get(URL)
    assert page.status_code == 200 and 'type="file"' in page.content.decode()


def test_pasted_document_becomes_a_draft_the_importer_may_edit(editor, ops_group):
    response = editor.post(URL, {"document": json.dumps(document())})
    assert response.status_code == 302 and response.url == reverse("workflows:edit",
                                                                   args=["imported"])
    workflow = Workflow.objects.get(name="imported")
    assert list(workflow.perimeters.all()) == [ops_group]
    version = workflow.versions.get()
    assert version.status == "draft"
    exported = workflow_export(workflow=workflow)["actions"]
    assert [(a["name"], a["inputs"]) for a in exported] == [
        (a["name"], a["inputs"]) for a in document()["actions"]]
    assert editor.get(reverse("workflows:edit", args=["imported"])).status_code == 200


def test_uploaded_file_can_be_published_with_a_note(editor):
    upload = SimpleUploadedFile("flow.json", json.dumps(document()).encode(),
                                content_type="application/json")
    response = editor.post(URL, {"file": upload, "publish": "on", "note": "from staging"})
    assert response.status_code == 302
    version = WorkflowVersion.objects.get(workflow__name="imported")
    assert version.status == "published" and version.note == "from staging"


@pytest.mark.parametrize(("posted", "path", "message"), [
    (json.dumps(document(url="not a url")), "actions[0].inputs.url", "URL"),
    (json.dumps({**document(), "actions": [{"name": "x", "type": "log", "inputs": {
        "message": "{{ oops( }}"}}]}), "actions[0].inputs.message", "syntax error"),
    (json.dumps({**document(), "actions": [{"name": "x", "type": "log", "inputs": {}}]}),
     "actions[0].inputs.message", "required"),
    (json.dumps(document(name="new")), "name", "reserved"),
    ('{"format": ', "$", "invalid JSON"),
])
def test_an_invalid_document_shows_the_error_at_its_path_and_writes_nothing(
        editor, posted, path, message):
    response = editor.post(URL, {"document": posted})
    assert response.status_code == 400
    body = response.content.decode()
    problem = body.split(f'data-path="{path}"')[1].split("</li>")[0]
    assert message.lower() in problem.lower()
    assert "nothing was imported" in body
    assert posted.replace('"', "&quot;")[:40] in body  # the text is kept for fixing
    assert not Workflow.objects.exists() and not Action.objects.exists()


def test_an_empty_form_is_refused_at_the_field(editor):
    response = editor.post(URL, {"document": "  "})
    assert response.status_code == 400 and 'id="errors-document"' in response.content.decode()


def test_a_workflow_the_importer_may_not_edit_is_left_alone(editor, admin_user):
    hidden, _ = services.workflow_create(name="imported", user=admin_user)
    response = editor.post(URL, {"document": json.dumps(document())})
    assert response.status_code == 400 and "may not edit" in response.content.decode()
    assert hidden.versions.get().actions.count() == 0


def test_users_who_may_not_create_workflows_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"document": json.dumps(document())}).status_code == 403
    assert not Workflow.objects.exists()
