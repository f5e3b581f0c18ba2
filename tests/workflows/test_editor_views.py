"""The editor's pages and htmx endpoints through the Django test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from workflows import services
from workflows.models import Action, Workflow

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def workflow(ops_group, admin_user) -> Workflow:
    workflow, _ = services.workflow_create(name="orders", user=admin_user,
                                           perimeters=[ops_group])
    return workflow


@pytest.fixture
def editor(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def viewer(client, django_user_model, workflow):
    from access.models import SecurityGroup

    group = SecurityGroup.objects.create(name="readers", can_view=True)
    user = django_user_model.objects.create_user("reader", password="reader-pass-123")
    group.members.add(user)
    workflow.perimeters.add(group)
    client.force_login(user)
    return client


def url(name: str, *args) -> str:
    return reverse(f"workflows:{name}", args=args)


def draft_of(workflow):
    return services.draft_get_or_create(workflow=workflow)


def add(client, workflow, type_, parent="", slot=""):
    response = client.post(url("edit_action_add", workflow.name),
                           {"type": type_, "parent": parent, "slot": slot}, **HTMX)
    assert response.status_code == 200
    return Action.objects.filter(version__workflow=workflow).order_by("-id")


def test_workflows_never_imports_runner():
    """DESIGN.md: definitions never depend on execution (run data comes from runner's views)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "workflows"
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "runner"]
    assert offenders == []


def test_editor_page_shows_tree_palette_and_panels(editor, workflow):
    branch = services.action_add(version=draft_of(workflow), type="if")
    services.action_add(version=branch.version, type="log", parent=branch, slot="else")
    page = editor.get(url("edit", workflow.name)).content.decode()
    for text in ('id="tree"', "if_1", "log_1", 'data-slot="then"', 'data-slot="else"',
                 'data-type="http_request"', 'id="triggers"', 'id="versions"',
                 'id="settings"', "Test run the draft", "needs setup"):
        assert text in page


def test_create_workflow_and_land_in_the_editor(editor, ops_group):
    response = editor.post(url("create"), {"name": "new-flow", "description": "d"})
    assert response.status_code == 302 and response.url == url("edit", "new-flow")
    created = Workflow.objects.get(name="new-flow")
    assert list(created.perimeters.all()) == [ops_group]
    response = editor.post(url("create"), {"name": "Bad Name"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()


def test_add_into_a_slot_returns_the_tree_fragment(editor, workflow):
    add(editor, workflow, "if")
    branch = Action.objects.get(name="if_1")
    response = editor.post(url("edit_action_add", workflow.name),
                           {"type": "for_each", "parent": branch.id, "slot": "then"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="tree"') and "<html" not in body
    assert "owlgrid:select" in response["HX-Trigger-After-Settle"]
    assert Action.objects.get(name="for_each_1").parent == branch


def test_add_into_a_missing_slot_is_refused(editor, workflow):
    add(editor, workflow, "log")
    log = Action.objects.get(name="log_1")
    response = editor.post(url("edit_action_add", workflow.name),
                           {"type": "log", "parent": log.id, "slot": "then"}, **HTMX)
    assert response.status_code == 400 and "has no slot" in response.content.decode()
    assert Action.objects.count() == 1


def test_panel_get_and_save(editor, workflow):
    add(editor, workflow, "http_request")
    action = Action.objects.get()
    panel = editor.get(url("edit_action", workflow.name, action.id), **HTMX).content.decode()
    assert 'name="in__url"' in panel and 'name="in__method"' in panel
    response = editor.post(url("edit_action", workflow.name, action.id), {
        "in__url": "https://api.test/items", "in__method": "POST",
        "in__json": '{"a": 1}', "in__headers": "", "in__timeout": "10", "name": "fetch",
        "retry_max_attempts": "2"}, **HTMX)
    body = response.content.decode()
    assert "Saved." in body and 'hx-swap-oob="true"' in body and "POST https://api.test" in body
    action.refresh_from_db()
    assert action.name == "fetch" and action.retry == {"max_attempts": 2}
    assert action.inputs == {"url": "https://api.test/items", "method": "POST",
                             "json": {"a": 1}, "timeout": 10,
                             "follow_redirects": False, "retry_safe": False}


def labels_of(panel: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", label).strip()
            for label in re.findall(r"<label[^>]*>(.*?)</label>", panel, re.DOTALL)]


@pytest.mark.parametrize(("type_", "present", "absent"), [
    ("set_variable", ["Variable name *", "Block name"], ["Name"]),
    ("http_request", ["URL *", "JSON body", "Request timeout (s)", "Step timeout (s)"],
     ["Url *", "Json", "Timeout", "Timeout (s)"]),
    ("if", ["Condition *", "Block name"], ["Step timeout (s)", "Retry: attempts"]),
])
def test_each_field_has_one_clear_label_and_only_what_applies(editor, workflow, type_, present,
                                                             absent):
    add(editor, workflow, type_)
    action = Action.objects.get()
    panel = editor.get(url("edit_action", workflow.name, action.id), **HTMX).content.decode()
    labels = labels_of(panel)
    assert all(label in labels for label in present), labels
    assert not any(label in labels for label in absent), labels
    assert len(labels) == len(set(labels)), labels


def test_a_structural_block_saves_without_retry_or_timeout_fields(editor, workflow):
    add(editor, workflow, "if")
    action = Action.objects.get()
    response = editor.post(url("edit_action", workflow.name, action.id), {
        "in__condition": "{{ true }}", "name": "check"}, **HTMX)
    assert "Saved." in response.content.decode()
    action.refresh_from_db()
    assert action.name == "check" and action.timeout_seconds is None


@pytest.mark.parametrize(("posted", "field", "message"), [
    ({"in__url": "ftp:/nope"}, "in__url", "url must be absolute"),
    ({"in__url": "https://x.test", "in__expected_status": '["200", "9zz"]'},
     "in__expected_status", "use a code"),
    ({"in__url": "https://x.test/{{ oops( }}"}, "in__url", "syntax error"),
    ({"in__url": ""}, "in__url", "Field required"),
    ({"in__url": "https://x.test", "in__headers": "{not json"}, "in__headers",
     "Enter valid JSON"),
    ({"in__url": "https://x.test", "in__timeout": "lots"}, "in__timeout", "Enter a number"),
    ({"in__url": "https://x.test", "in__timeout": "1000"}, "in__timeout", "less than or equal"),
    ({"in__url": "https://x.test", "name": "Bad Name"}, "name", "lowercase"),
])
def test_invalid_input_shows_a_message_at_the_field_and_saves_nothing(editor, workflow, posted,
                                                                      field, message):
    add(editor, workflow, "http_request")
    action = Action.objects.get()
    data = {"name": action.name, **posted}
    response = editor.post(url("edit_action", workflow.name, action.id), data, **HTMX)
    body = response.content.decode()
    assert message in body and "Saved." not in body
    if field:
        assert f'id="errors-{field}"' in body
        at_field = body.split(f'id="errors-{field}"')[1].split("</ul>")[0]
        assert message in at_field
    action.refresh_from_db()
    assert action.inputs == {} and action.name == "http_request_1"


def test_expression_check_flags_syntax_as_you_type(editor, workflow):
    good = editor.post(url("edit_check", workflow.name),
                       {"field": "in__url", "in__url": "{{ trigger.body.x }}"}, **HTMX)
    bad = editor.post(url("edit_check", workflow.name),
                      {"field": "in__url", "in__url": "{{ trigger.body.x ( }}"}, **HTMX)
    assert good.content == b"" and "syntax error" in bad.content.decode()


@pytest.mark.parametrize(("type_", "field", "typed", "stored"), [
    ("http_request", "json", '{"order": "{{ trigger.body.id }}", "lines": ["{{ item }}", 2]}',
     {"order": "{{ trigger.body.id }}", "lines": ["{{ item }}", 2]}),
    ("http_request", "headers", '{"X-Order": "{{ trigger.body.id }}"}',
     {"X-Order": "{{ trigger.body.id }}"}),
    ("respond", "body", '{"ok": true, "id": "{{ run.id }}"}', {"ok": True, "id": "{{ run.id }}"}),
    ("respond", "body", "{{ steps.fetch.output }}", "{{ steps.fetch.output }}"),
    ("respond", "body", "[{{ a }}] stays text", "[{{ a }}] stays text"),
    ("trigger_workflow", "payload", '[{"n": "{{ item }}"}]', [{"n": "{{ item }}"}]),
])
def test_json_with_expressions_inside_is_stored_as_a_structure(editor, workflow, type_, field,
                                                               typed, stored):
    """Issue: `{"order": "{{ item.id }}"}` used to be kept as one template producing text."""
    add(editor, workflow, type_)
    action = Action.objects.get()
    data = {"name": action.name, f"in__{field}": typed, "in__url": "https://x.test",
            "in__workflow": "other"}
    response = editor.post(url("edit_action", workflow.name, action.id), data, **HTMX)
    body = response.content.decode()
    assert "Saved." in body, body
    action.refresh_from_db()
    assert action.inputs[field] == stored
    if not isinstance(stored, str):
        assert "As it will be sent" in body


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("json", '{"order": {{ trigger.body.id }}}', "Put each {{ expression }} inside a JSON string"),
    ("json", '{"order": 1,}', "not valid JSON: Expecting property name"),
    ("headers", "[{{ x }}]", "Enter valid JSON"),
])
def test_broken_json_is_refused_at_its_field(editor, workflow, field, typed, message):
    add(editor, workflow, "http_request")
    action = Action.objects.get()
    response = editor.post(url("edit_action", workflow.name, action.id), {
        "name": action.name, "in__url": "https://x.test", f"in__{field}": typed}, **HTMX)
    at_field = response.content.decode().split(f'id="errors-in__{field}"')[1]
    assert message in at_field.split("</ul>")[0]
    action.refresh_from_db()
    assert action.inputs == {}


def test_respond_body_that_opens_like_an_object_but_is_broken_is_refused(editor, workflow):
    add(editor, workflow, "respond")
    action = Action.objects.get()
    response = editor.post(url("edit_action", workflow.name, action.id), {
        "name": action.name, "in__body": '{"ok": tru}'}, **HTMX)
    assert "looks like a JSON object but is not valid JSON" in response.content.decode()


def test_the_field_check_describes_a_structure_and_flags_a_broken_leaf(editor, workflow):
    def check(kind, text):
        return editor.post(url("edit_check", workflow.name),
                           {"field": "in__json", "kind": kind, "in__json": text},
                           **HTMX).content.decode()

    described = check("value", '{"order": "{{ trigger.body.id }}", "qty": 2}')
    assert "Sent as a JSON object of 2 field(s); 1 value(s) come from expressions" in described
    assert "order: " in check("value", '{"order": "{{ trigger.body.id ( }}"}')
    assert "Enter valid JSON" in check("json", '{"a": }')
    assert check("text", "plain words") == ""


def test_move_duplicate_delete(editor, workflow):
    add(editor, workflow, "if")
    add(editor, workflow, "log")
    branch, log = Action.objects.get(name="if_1"), Action.objects.get(name="log_1")
    response = editor.post(url("edit_action_move", workflow.name, log.id),
                           {"parent": branch.id, "slot": "else", "position": "0"}, **HTMX)
    assert response.status_code == 200
    log.refresh_from_db()
    assert (log.parent_id, log.slot) == (branch.id, "else")
    response = editor.post(url("edit_action_move", workflow.name, branch.id),
                           {"parent": log.id, "slot": "then", "position": "0"}, **HTMX)
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()
    editor.post(url("edit_action_duplicate", workflow.name, branch.id), **HTMX)
    assert Action.objects.filter(name__in=["if_1_copy_1", "log_1_copy_1"]).count() == 2
    editor.post(url("edit_action_delete", workflow.name, branch.id), **HTMX)
    assert sorted(Action.objects.values_list("name", flat=True)) == ["if_1_copy_1",
                                                                    "log_1_copy_1"]


def test_suggestions_in_the_panel(editor, workflow, environments):
    from environments.models import Variable

    Variable.objects.create(environment=environments["dev"], name="API_BASE", value="secret-x")
    draft = draft_of(workflow)
    loop = services.action_add(version=draft, type="for_each")
    services.action_add(version=draft, type="log", position=0)
    inner = services.action_add(version=draft, type="log", parent=loop, slot="body")
    panel = editor.get(url("edit_action", workflow.name, inner.id), **HTMX).content.decode()
    for text in ("steps.log_1.output", "env.API_BASE", 'data-insert="item"', "trigger.body"):
        assert text in panel
    assert "secret-x" not in panel


def test_a_trigger_form_has_a_field_per_setting(editor, workflow, ops_group, environments):
    editor.post(url("edit_trigger_add", workflow.name), {"type": "http"}, **HTMX)
    trigger = draft_of(workflow).triggers.get()
    prefix = f"t{trigger.pk.hex[:8]}"
    page = editor.get(url("edit", workflow.name)).content.decode()
    for label in ("Methods", "Mode", "Wait for the answer (s, sync)",
                  "Input schema (JSON Schema)", "Output schema (JSON Schema)"):
        assert f">{label}</label>" in page or f">{label}<" in page, label
    saved = editor.post(url("edit_trigger", workflow.name, trigger.id), {
        f"{prefix}-name": "web", f"{prefix}-access": "group",
        f"{prefix}-access_group": ops_group.id, f"{prefix}-s__methods": ["POST", "PUT"],
        f"{prefix}-s__mode": "sync", f"{prefix}-s__timeout": "15",
        f"{prefix}-s__output_schema": '{"type": "object"}',
        f"{prefix}-settings": '{"max_body_bytes": 2048}'}, **HTMX)
    assert saved.status_code == 200, saved.content.decode()
    trigger.refresh_from_db()
    assert trigger.settings == {"methods": ["POST", "PUT"], "mode": "sync", "timeout": 15,
                                "output_schema": {"type": "object"}, "max_body_bytes": 2048}
    bad = editor.post(url("edit_trigger", workflow.name, trigger.id), {
        f"{prefix}-name": "web", f"{prefix}-access": "group",
        f"{prefix}-access_group": ops_group.id, f"{prefix}-s__timeout": "900"}, **HTMX)
    body = bad.content.decode()
    at_field = body.split('data-setting="s__timeout"')[1].split("</div>")[0]
    assert bad.status_code == 400 and "between 0 and 60" in at_field


def test_triggers_and_settings(editor, workflow, ops_group, environments):
    response = editor.post(url("edit_trigger_add", workflow.name), {"type": "http"}, **HTMX)
    assert response.status_code == 200 and "/hooks/" in response.content.decode()
    trigger = draft_of(workflow).triggers.get()
    prefix = f"t{trigger.pk.hex[:8]}"
    bad = editor.post(url("edit_trigger", workflow.name, trigger.id), {
        f"{prefix}-name": "web", f"{prefix}-access": "group",
        f"{prefix}-access_group": ops_group.id, f"{prefix}-settings": '{"mode": "later"}'},
        **HTMX)
    assert bad.status_code == 400 and "sync" in bad.content.decode()
    trigger.refresh_from_db()
    assert trigger.name == "http_1"
    editor.post(url("edit_trigger_add", workflow.name), {"type": "schedule"}, **HTMX)
    schedule = draft_of(workflow).triggers.get(type="schedule")
    prefix = f"t{schedule.pk.hex[:8]}"
    editor.post(url("edit_trigger", workflow.name, schedule.id), {
        f"{prefix}-name": "nightly", f"{prefix}-access": "public",
        f"{prefix}-settings": '{"cron": "0 2 * * *", "timezone": "Europe/Paris"}'}, **HTMX)
    page = editor.get(url("edit", workflow.name)).content.decode()
    assert "Next fire times (Europe/Paris)" in page
    assert page.count(" 02:00 CE") == 5  # in the trigger's own time zone (CET or CEST)
    http = page.split('id="triggers"')[1]
    assert "/hooks/dev/orders" in http and "/hooks/prod/orders" in http
    assert "(once deployed)" in http and 'Authorization: Bearer $OWLGRID_TOKEN' in http
    editor.post(url("edit_trigger_delete", workflow.name, trigger.id), **HTMX)
    assert list(draft_of(workflow).triggers.values_list("type", flat=True)) == ["schedule"]
    response = editor.post(url("edit_settings", workflow.name), {
        "name": "orders", "description": "Takes orders", "tags": "shop, core",
        "perimeters": [ops_group.id]}, **HTMX)
    assert "Saved." in response.content.decode()
    workflow.refresh_from_db()
    assert workflow.tags == ["shop", "core"] and workflow.description == "Takes orders"
    from access.models import SecurityGroup

    auditors = SecurityGroup.objects.create(name="auditors", can_view=True)
    page = editor.get(url("edit", workflow.name)).content.decode()
    assert 'name="perimeters"' in page and "auditors" in page
    editor.post(url("edit_settings", workflow.name), {
        "name": "orders", "tags": "shop", "perimeters": [ops_group.id, auditors.id]}, **HTMX)
    assert set(workflow.perimeters.all()) == {ops_group, auditors}
    bad = editor.post(url("edit_settings", workflow.name), {"name": "NO NO"}, **HTMX)
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()


def publish_ready(workflow):
    draft = draft_of(workflow)
    log = services.action_add(version=draft, type="log")
    services.action_update(action=log, inputs={"message": "hello"})
    return draft


def test_publish_history_diff_restore(editor, workflow):
    draft = draft_of(workflow)
    log = services.action_add(version=draft, type="log")
    refused = editor.post(url("publish", workflow.name), {"note": "x"}, **HTMX)
    assert refused.status_code == 400 and "message" in refused.content.decode()
    services.action_update(action=log, inputs={"message": "hello"})
    response = editor.post(url("publish", workflow.name), {"note": "first"}, **HTMX)
    assert response["HX-Redirect"] == url("edit", workflow.name)
    draft = draft_of(workflow)
    wait = services.action_add(version=draft, type="wait")
    assert services.action_update(action=wait, inputs={"seconds": 1}) == {}
    editor.post(url("publish", workflow.name), {"note": "second"}, **HTMX)
    history = editor.get(url("history", workflow.name)).content.decode()
    assert "first" in history and "second" in history
    diff = editor.get(url("diff", workflow.name) + "?a=1&b=2")
    assert "wait_1" in diff.content.decode() and "Added" in diff.content.decode()
    assert editor.get(url("diff", workflow.name) + "?a=1&b=99").status_code == 404
    response = editor.post(url("restore", workflow.name), {"number": "1"})
    assert response.status_code == 302
    assert list(draft_of(workflow).actions.values_list("name", flat=True)) == ["log_1"]


def test_a_publish_refusal_names_the_block_and_its_field(editor, workflow):
    add(editor, workflow, "http_request")
    refused = editor.post(url("publish", workflow.name), {"note": "x"}, **HTMX).content.decode()
    assert "block &#x27;http_request_1&#x27; (HTTP request), field URL: Field required" in refused
    assert "actions[0]" not in refused


def test_opening_the_editor_makes_no_draft_until_something_changes(editor, workflow):
    publish_ready(workflow)
    editor.post(url("publish", workflow.name), {"note": "first"}, **HTMX)
    published = workflow.versions.get()
    page = editor.get(url("edit", workflow.name)).content.decode()
    log = published.actions.get()
    panel = editor.get(url("edit_action", workflow.name, log.id), **HTMX)
    assert panel.status_code == 200 and "in__message" in panel.content.decode()
    assert "v1, published" in page and "first change starts draft v2" in page
    assert workflow.versions.count() == 1
    nothing = editor.post(url("publish", workflow.name), {"note": "again"}, **HTMX)
    assert "Nothing to publish" in nothing.content.decode() and workflow.versions.count() == 1

    # The first change, made on the block the page showed (an id of v1), starts draft v2.
    saved = editor.post(url("edit_action", workflow.name, log.id),
                        {"name": log.name, "in__message": "changed"}, **HTMX)
    body = saved.content.decode()
    assert "Saved." in body and 'id="editor-title" hx-swap-oob="true"' in body
    assert "draft v2" in body and 'id="publish-button"' in body
    draft = workflow.versions.get(status="draft")
    assert draft.number == 2 and draft.actions.get().inputs["message"] == "changed"
    assert published.actions.get().inputs["message"] == "hello"


def test_a_respond_behind_an_async_trigger_is_flagged_on_the_block_and_before_publish(
        editor, workflow):
    draft = draft_of(workflow)
    services.action_add(version=draft, type="respond")
    trigger, _ = services.trigger_add(version=draft, type="http")
    page = editor.get(url("edit", workflow.name)).content.decode()
    tree, versions = page.split('id="tree"')[1], page.split('id="versions"')[1]
    assert "answers no one: the HTTP trigger &#x27;" in tree.split('id="versions"')[0]
    assert "respond_1&#x27; (Respond) answers no one" in versions.split("</section>")[0]
    services.trigger_update(trigger=trigger, name=trigger.name,
                            settings={**trigger.settings, "mode": "sync"},
                            access=trigger.access, access_group=trigger.access_group)
    assert "answers no one" not in editor.get(url("edit", workflow.name)).content.decode()


def test_diff_shows_moves(editor, workflow):
    draft = draft_of(workflow)
    branch = services.action_add(version=draft, type="if")
    log = services.action_add(version=draft, type="log")
    services.action_update(action=branch, inputs={"condition": "{{ true }}"})
    services.action_update(action=log, inputs={"message": "m"})
    services.version_publish(version=draft)
    draft = draft_of(workflow)
    services.action_move(action=draft.actions.get(name="log_1"),
                         parent=draft.actions.get(name="if_1"), slot="then", position=0)
    services.version_publish(version=draft)
    body = editor.get(url("diff", workflow.name) + "?a=1&b=2").content.decode()
    assert "Moved" in body and "if_1.then, position 1" in body


def test_list_shows_actions_and_last_run(editor, workflow):
    body = editor.get(url("list")).content.decode()
    assert url("edit", "orders") in body and "Deactivate" in body
    assert f'id="last-run-{workflow.id}"' in body and reverse("runner:last_runs") in body
    editor.post(url("set_active", "orders"), {"active": "0"})
    workflow.refresh_from_db()
    assert workflow.active is False
    response = editor.post(url("set_active", "orders"),
                           {"active": "1", "next": "https://evil.test/"})
    assert response.url == url("list")


def test_duplicate_and_delete_with_confirmation(editor, workflow):
    response = editor.post(url("duplicate", "orders"))
    assert response.url == url("edit", "orders-copy")
    assert editor.get(url("delete", "orders-copy")).status_code == 200
    editor.post(url("delete", "orders-copy"), {"confirm": "wrong"})
    assert Workflow.objects.filter(name="orders-copy").exists()
    response = editor.post(url("delete", "orders-copy"), {"confirm": "orders-copy"})
    assert response.url == url("list")
    assert not Workflow.objects.filter(name="orders-copy").exists()


def endpoints(workflow):
    action = services.action_add(version=draft_of(workflow), type="log")
    trigger, _ = services.trigger_add(version=draft_of(workflow), type="manual")
    return [
        ("post", url("edit_action_add", workflow.name), {"type": "log"}),
        ("get", url("edit_action", workflow.name, action.id), {}),
        ("post", url("edit_action", workflow.name, action.id), {"name": "x"}),
        ("post", url("edit_action_move", workflow.name, action.id), {"position": "0"}),
        ("post", url("edit_action_delete", workflow.name, action.id), {}),
        ("post", url("edit_action_duplicate", workflow.name, action.id), {}),
        ("post", url("edit_check", workflow.name), {"field": "x"}),
        ("post", url("edit_trigger_add", workflow.name), {"type": "manual"}),
        ("post", url("edit_trigger", workflow.name, trigger.id), {}),
        ("post", url("edit_trigger_delete", workflow.name, trigger.id), {}),
        ("post", url("edit_settings", workflow.name), {"name": "hacked"}),
        ("post", url("publish", workflow.name), {}),
        ("post", url("restore", workflow.name), {"number": "1"}),
        ("post", reverse("workflow_test_run", args=[workflow.name]), {}),
        ("get", reverse("workflow_test_status", args=[workflow.name]), {}),
        ("get", url("edit", workflow.name), {}),
        ("post", url("duplicate", workflow.name), {}),
        ("post", url("delete", workflow.name), {"confirm": workflow.name}),
        ("post", url("set_active", workflow.name), {"active": "0"}),
    ]


def test_viewers_may_look_but_every_edit_is_refused(viewer, workflow):
    assert viewer.get(url("history", workflow.name)).status_code == 200
    assert viewer.get(url("diff", workflow.name)).status_code == 200
    for method, path, data in endpoints(workflow):
        response = getattr(viewer, method)(path, data, **HTMX)
        assert response.status_code == 403, path
    workflow.refresh_from_db()
    assert workflow.name == "orders" and workflow.active
    assert Action.objects.count() == 1


def test_outsiders_see_nothing(client, outsider, workflow):
    client.force_login(outsider)
    for method, path, data in endpoints(workflow) + [("get", url("history", "orders"), {}),
                                                     ("get", url("diff", "orders"), {})]:
        assert getattr(client, method)(path, data, **HTMX).status_code == 404, path
    assert client.get(url("create")).status_code == 403


def test_anonymous_users_are_sent_to_log_in(client, workflow):
    assert client.get(url("edit", workflow.name)).status_code == 302


def test_a_workflow_may_not_be_named_like_a_list_page(editor, ops_group):
    response = editor.post(url("create"), {"name": "new"})
    body = response.content.decode()
    assert response.status_code == 200 and "is reserved" in body
    assert 'class="errorlist' in body.split('id="id_name"')[1][:400]
    assert not Workflow.objects.filter(name="new").exists()


def test_list_filters_by_search_environment_tag_and_active(editor, workflow, ops_group,
                                                           admin_user, environments):
    from environments.models import Deployment

    others = {}
    for name, description, tags in [("billing", "Sends invoices", ["money"]),
                                    ("cleanup", "Nightly orders purge", ["ops", "money"])]:
        others[name], _ = services.workflow_create(name=name, description=description,
                                                   tags=tags, user=admin_user,
                                                   perimeters=[ops_group])
    publish_ready(others["billing"])
    services.version_publish(version=draft_of(others["billing"]))
    Deployment.objects.create(workflow=others["billing"], environment=environments["staging"],
                              version=others["billing"].versions.get(number=1))
    services.workflow_set_active(workflow=others["cleanup"], active=False)

    def names(**query) -> list[str]:
        response = editor.get(url("list"), query, **HTMX)
        body = response.content.decode()
        assert "<table" not in body  # htmx gets the rows only
        return sorted(n for n in ("orders", "billing", "cleanup") if f">{n}</a>" in body)

    assert names() == ["billing", "cleanup", "orders"]
    assert names(q="orders") == ["cleanup", "orders"]  # name or description
    assert names(environment="staging") == ["billing"]
    assert names(environment="prod") == []
    assert names(tag="money") == ["billing", "cleanup"]
    assert names(tag="money", active="yes") == ["billing"]
    assert names(active="no") == ["cleanup"]
    page = editor.get(url("list"), {"tag": "money"}).content.decode()
    assert 'value="money"' in page and "staging v1" in page
    assert '<option value="ops">' in page  # known tags are offered


def test_renaming_in_the_panel_rewrites_references_and_refreshes_the_tree(editor, workflow):
    draft = draft_of(workflow)
    first = services.action_add(version=draft, type="log")
    later = services.action_add(version=draft, type="log")
    services.action_update(action=first, inputs={"message": "a"})
    services.action_update(action=later, inputs={"message": "got {{ steps.log_1.output }}"})
    response = editor.post(url("edit_action", workflow.name, first.id),
                           {"name": "greet", "in__message": "a"}, **HTMX)
    body = response.content.decode()
    assert "Saved." in body and response["HX-Trigger"] == "owlgrid:tree-changed"
    assert 'id="tree" class="tree-root" role="tree" hx-swap-oob="true"' in body
    assert "got {{ steps.greet.output }}" in body  # the later block's summary, re-rendered
    later.refresh_from_db()
    assert later.inputs == {"message": "got {{ steps.greet.output }}"}
    plain = editor.post(url("edit_action", workflow.name, first.id),
                        {"name": "greet", "in__message": "b"}, **HTMX).content.decode()
    assert "hx-swap-oob" in plain and 'id="tree"' not in plain  # just the block's head


def test_diff_page_shows_renames_in_the_tree(editor, workflow):
    draft = publish_ready(workflow)
    services.version_publish(version=draft)
    services.action_update(action=draft_of(workflow).actions.get(), inputs={"message": "hello"},
                           name="greet")
    body = editor.get(url("diff", workflow.name) + "?a=1&b=2").content.decode()
    assert "renamed from log_1" in body and "Renamed" in body and "diff-added" not in body
