"""Reads of workflow definitions for views, the API and commands."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from access.permissions import workflows_visible_to
from workflows.environment_chain import environment_chain
from workflows.models import Trigger, Workflow, WorkflowVersion


def workflow_list(
    *, user: Any, search: str = "", environment: str = "", tag: str = "", active: str = ""
) -> QuerySet[Workflow] | list[Workflow]:
    workflows = workflows_visible_to(user, Workflow.objects.all())
    if search:
        workflows = workflows.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if environment:
        workflows = workflows.filter(deployments__environment__name=environment)
    if active in {"yes", "no"}:
        workflows = workflows.filter(active=active == "yes")
    workflows = workflows.prefetch_related(
        "deployments__environment", "deployments__version").distinct()
    if tag:
        # JSON containment is not portable to SQLite, so tags are matched in Python.
        return [w for w in workflows if tag in (w.tags or [])]
    return workflows


def known_tags(*, user: Any) -> list[str]:
    """Every tag of the workflows the user may see, for the list's tag filter."""
    tags = workflows_visible_to(user, Workflow.objects.all()).values_list("tags", flat=True)
    return sorted({tag for group in tags for tag in (group or []) if isinstance(tag, str)})


def latest_version(workflow: Workflow) -> WorkflowVersion | None:
    return workflow.versions.order_by("-number").first()


def version_tree(version: WorkflowVersion) -> list[dict[str, Any]]:
    """The action tree as nested dicts: {action, children: {slot: [...]}} in position order."""
    actions = list(version.actions.order_by("position"))
    by_parent: dict[Any, list] = {}
    for action in actions:
        by_parent.setdefault(action.parent_id, []).append(action)

    def build(parent_id: Any) -> list[dict[str, Any]]:
        nodes = []
        for action in by_parent.get(parent_id, []):
            found: dict[str, list] = {}
            for child in build(action.id):
                found.setdefault(child["action"].slot, []).append(child)
            # The type's own order (THEN before ELSE), then named branches as they come.
            declared = [slot for slot in _declared_slots(action.type) if slot in found]
            slots = {slot: found[slot] for slot in [*declared, *found]}
            nodes.append({"action": action, "children": slots})
        return nodes

    return build(None)


def _declared_slots(type_name: str) -> tuple[str, ...]:
    from workflows.actions import REGISTRY

    action_type = REGISTRY.get(type_name)
    return action_type.slots if action_type is not None else ()


def http_trigger_example(environment: str, workflow: Workflow, trigger: Trigger,
                         ) -> dict[str, str]:
    """The URL of an HTTP trigger in an environment and a ready curl command to call it."""
    url = f"{settings.SITE_URL}/hooks/{environment}/{workflow.name}"
    auth_headers: dict[str, str] = {
        Trigger.Access.GROUP: ' -H "Authorization: Bearer $OWLGRID_TOKEN"',
        Trigger.Access.HMAC: (' -H "webhook-id: $ID" -H "webhook-timestamp: $TS"'
                              ' -H "webhook-signature: v1,$SIG"'),
        Trigger.Access.PUBLIC: "",
    }
    auth = auth_headers.get(trigger.access, "")
    method = ((trigger.settings or {}).get("methods") or ["POST"])[0]
    body = "" if method in {"GET", "DELETE"} else (
        " -H 'Content-Type: application/json' -d " + shell_quote(sample_body(workflow)))
    return {"environment": environment, "trigger": trigger.name, "url": url,
            "curl": f"curl -X {method} {url}{auth}{body}", "access": trigger.access,
            "mode": (trigger.settings or {}).get("mode", "async"),
            "token_group": trigger.access_group.name
            if trigger.access == Trigger.Access.GROUP and trigger.access_group else ""}


def sample_body(workflow: Workflow) -> str:
    """The body the curl example sends: the editor's saved test input (the body of its test
    runs), else a placeholder."""
    sample = workflow.test_sample
    return json.dumps(sample if sample not in (None, {}, "") else {"hello": "world"})


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def published_versions(workflow: Workflow) -> QuerySet[WorkflowVersion]:
    return workflow.versions.filter(status=WorkflowVersion.Status.PUBLISHED).order_by("-number")


def deployment_stages(workflow: Workflow) -> list[dict[str, Any]]:
    """Each environment in promotion order with the version it runs and where its next
    version comes from: the first takes a published version (Deploy), each later one what
    the one before runs (Promote)."""
    deployed = {d.environment.name: d.version for d in workflow.deployments.select_related(
        "environment", "version")}
    stages, previous = [], None
    for environment in environment_chain():
        stages.append({"environment": environment, "version": deployed.get(environment.name),
                       "source": previous,
                       "source_version": deployed.get(previous.name) if previous else None})
        previous = environment
    return stages


def http_trigger_examples(workflow: Workflow) -> list[dict[str, str]]:
    """The URL and a ready curl command for each environment the workflow is deployed in."""
    return [
        {**http_trigger_example(deployment.environment.name, workflow, trigger),
         "deployed": f"v{deployment.version.number}"}
        for deployment in workflow.deployments.select_related("environment", "version")
        for trigger in deployment.version.triggers.filter(type=Trigger.Type.HTTP)
    ]


def draft_trigger_examples(workflow: Workflow, trigger: Trigger) -> list[dict[str, str]]:
    """Per environment of the chain: where `trigger` answers, deployed there or once it is."""
    deployed = {e["environment"]: e for e in http_trigger_examples(workflow)
                if e["trigger"] == trigger.name}
    return [deployed.get(env.name) or {**http_trigger_example(env.name, workflow, trigger),
                                       "deployed": ""}
            for env in environment_chain()]


def schedule_previews(version: WorkflowVersion) -> list[dict[str, Any]]:
    """Each schedule trigger with its next fire times, for the workflow page."""
    from workflows.schedules import next_fire_times

    return [
        {"trigger": trigger, "next": next_fire_times(trigger.settings or {}, 5)}
        for trigger in version.triggers.filter(type=Trigger.Type.SCHEDULE)
    ]
