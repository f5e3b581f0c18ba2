"""Promotion: every check, all failures reported together, nothing changed; concurrency;
runs in flight keep their version; rollback; the command's exit codes."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from access.models import SecurityGroup
from environments.models import Connection, Deployment, PromotionRecord, Variable
from environments.promotion import PromotionRefused, workflow_promote, workflow_rollback
from workflows.format import workflow_import

pytestmark = pytest.mark.django_db


def document(version_note="v", url="{{ env.API_BASE }}/ping", group="ops"):
    return {
        "format": "owlgrid.workflow/v1", "name": "shipper", "note": version_note,
        "actions": [
            {"name": "call", "type": "http_request", "inputs": {"url": url}},
            {"name": "ask", "type": "approval", "inputs": {"group": group}},
        ],
        "triggers": [],
    }


@pytest.fixture
def shipped(environments, ops_group, admin_user):
    ops_group.deploy_environments.set(environments.values())
    for name in ("dev", "staging", "prod"):
        Variable.objects.create(environment=environments[name], name="API_BASE",
                                value=f"https://{name}.example.com")
    version = workflow_import(document=document(), publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    return version


def promote(shipped, environments, user, source="dev", target="staging", **kwargs):
    return workflow_promote(workflow=shipped.workflow, source=environments[source],
                            target=environments[target], user=user, **kwargs)


def failures_of(call):
    before = (Deployment.objects.count(), PromotionRecord.objects.count())
    with pytest.raises(PromotionRefused) as caught:
        call()
    assert (Deployment.objects.count(), PromotionRecord.objects.count()) == before
    return caught.value.plan.failures


def test_promotion_to_the_next_environment_is_recorded(shipped, environments, admin_user):
    plan = promote(shipped, environments, admin_user)
    assert plan.ok
    assert Deployment.objects.get(environment=environments["staging"]).version == shipped
    record = PromotionRecord.objects.get()
    assert (record.kind, record.source.name, record.target.name, record.user) == (
        "promote", "dev", "staging", admin_user)
    assert {c["check"] for c in record.checks} >= {"right", "chain", "version", "variables"}


def test_dev_to_prod_is_refused_naming_staging(shipped, environments, admin_user):
    (failure,) = failures_of(lambda: promote(shipped, environments, admin_user, target="prod"))
    assert "staging" in failure


def test_a_user_without_the_deploy_right_is_refused(shipped, environments, member, ops_group):
    ops_group.deploy_environments.remove(environments["staging"])
    (failure,) = failures_of(lambda: promote(shipped, environments, member))
    assert "may not deploy to staging" in failure


def test_missing_variable_is_refused(shipped, environments, admin_user):
    Variable.objects.filter(environment=environments["staging"]).update(value="")
    (failure,) = failures_of(lambda: promote(shipped, environments, admin_user))
    assert "API_BASE" in failure


def test_missing_connection_and_group_and_variable_are_all_reported(environments, ops_group,
                                                                    admin_user):
    ops_group.deploy_environments.set(environments.values())
    doc = document(url="/ping", group="ops")
    doc["actions"][0]["inputs"]["connection"] = "crm"
    version = workflow_import(document=doc, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    SecurityGroup.objects.filter(name="ops").update(name="operators")
    failures = failures_of(lambda: workflow_promote(
        workflow=version.workflow, source=environments["dev"], target=environments["prod"],
        user=admin_user))
    text = " ".join(failures)
    assert "staging" in text and "crm" in text and "ops" in text


def test_a_failing_connection_check_is_refused(environments, ops_group, admin_user):
    ops_group.deploy_environments.set(environments.values())
    doc = document(url="/ping")
    doc["actions"][0]["inputs"]["connection"] = "crm"
    version = workflow_import(document=doc, publish=True)
    Deployment.objects.create(workflow=version.workflow, environment=environments["dev"],
                              version=version)
    Connection.objects.create(environment=environments["staging"], name="crm", kind="http",
                              config={"base_url": "http://127.0.0.1:9"})
    (failure,) = failures_of(lambda: workflow_promote(
        workflow=version.workflow, source=environments["dev"], target=environments["staging"],
        user=admin_user))
    assert "connection crm fails its check" in failure


def test_dry_run_shows_checks_and_diff_and_changes_nothing(shipped, environments, admin_user):
    promote(shipped, environments, admin_user)
    changed = document(version_note="v2")
    changed["actions"].append({"name": "done", "type": "log", "inputs": {"message": "ok"}})
    second = workflow_import(document=changed, publish=True)
    Deployment.objects.filter(environment=environments["dev"]).update(version=second)
    plan = promote(shipped, environments, admin_user, dry_run=True)
    assert plan.ok and plan.diff["added"] == ["done"]
    assert Deployment.objects.get(environment=environments["staging"]).version == shipped


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_promotions_exactly_one_wins(shipped, environments, admin_user):
    outcomes = []

    def attempt():
        try:
            promote(shipped, environments, admin_user)
            outcomes.append("won")
        except PromotionRefused:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "won"]
    assert PromotionRecord.objects.count() == 1


def test_rollback_redeploys_the_previous_version(shipped, environments, admin_user):
    promote(shipped, environments, admin_user)
    second = workflow_import(document=document(version_note="v2"), publish=True)
    Deployment.objects.filter(environment=environments["dev"]).update(version=second)
    promote(shipped, environments, admin_user)
    assert Deployment.objects.get(environment=environments["staging"]).version == second
    workflow_rollback(workflow=shipped.workflow, environment=environments["staging"],
                      user=admin_user)
    assert Deployment.objects.get(environment=environments["staging"]).version == shipped
    assert PromotionRecord.objects.first().kind == "rollback"


def test_the_promote_command_and_its_exit_codes(shipped, environments, admin_user):
    out = StringIO()
    call_command("promote", "shipper", "--from", "dev", "--to", "staging", "--dry-run",
                 stdout=out)
    assert "ok" in out.getvalue() and not Deployment.objects.filter(
        environment=environments["staging"]).exists()
    assert "changes against what staging runs now:\n  added ask\n  added call" in out.getvalue()
    with pytest.raises(CommandError) as caught:
        call_command("promote", "shipper", "--from", "dev", "--to", "prod", stderr=StringIO())
    assert caught.value.returncode == 1
    call_command("promote", "shipper", "--from", "dev", "--to", "staging", stdout=StringIO())
    assert Deployment.objects.filter(environment=environments["staging"]).exists()


def test_a_missing_security_group_alone_is_refused(shipped, environments, admin_user):
    SecurityGroup.objects.filter(name="ops").update(name="operators")
    (failure,) = failures_of(lambda: promote(shipped, environments, admin_user))
    assert "Security groups do not exist: ops" in failure


def test_promoting_the_version_already_there_is_refused(shipped, environments, admin_user):
    promote(shipped, environments, admin_user)
    Deployment.objects.filter(environment=environments["dev"]).update(version=shipped)
    (failure,) = failures_of(lambda: promote(shipped, environments, admin_user))
    assert "already runs version 1" in failure


def test_a_draft_version_alone_is_refused(shipped, environments, admin_user):
    draft = workflow_import(document=document(version_note="draft"))
    Deployment.objects.filter(environment=environments["dev"]).update(version=draft)
    (failure,) = failures_of(lambda: promote(shipped, environments, admin_user))
    assert "draft" in failure


def test_a_first_deployment_goes_to_the_start_of_the_chain(environments, ops_group, admin_user):
    ops_group.deploy_environments.set(environments.values())
    version = workflow_import(document=document(), publish=True)
    Variable.objects.create(environment=environments["staging"], name="API_BASE", value="x")
    (failure,) = failures_of(lambda: workflow_promote(
        workflow=version.workflow, source=None, target=environments["staging"], user=admin_user))
    assert "first deployment goes to dev" in failure
    Variable.objects.create(environment=environments["dev"], name="API_BASE", value="x")
    plan = workflow_promote(workflow=version.workflow, source=None, target=environments["dev"],
                            user=admin_user)
    assert plan.version == version and PromotionRecord.objects.get().kind == "deploy"
