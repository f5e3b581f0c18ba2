"""The demo loaded by `make run` on first start: environments, an admin, a group, workflows.

Idempotent: each piece is created only when missing, so `make run` can run it every time.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from access.models import SecurityGroup
from environments.models import Deployment, Environment, PromotionRecord, Variable

EXAMPLES = Path(settings.BASE_DIR) / "docs" / "examples"
CHAIN = [("dev", "Development"), ("staging", "Staging"), ("prod", "Production")]


@transaction.atomic
def load_demo() -> dict[str, Any]:
    """Create what is missing; returns {"admin_password": str | None, "workflows": [names]}."""
    environments = ensure_environments()
    admin, password = ensure_admin()
    group = ensure_group(admin, environments)
    ensure_variables(environments)
    names = [ensure_workflow(path, admin, group, environments["dev"])
             for path in sorted(EXAMPLES.glob("*.json"))]
    return {"admin_password": password, "workflows": [n for n in names if n]}


def ensure_environments() -> dict[str, Environment]:
    if Environment.objects.exists():
        return {env.name: env for env in Environment.objects.all()}
    return {
        name: Environment.objects.create(name=name, label=label, position=index)
        for index, (name, label) in enumerate(CHAIN, start=1)
    }


def ensure_admin() -> tuple[Any, str | None]:
    users = get_user_model()
    admin = users.objects.filter(username="admin").first()
    if admin is not None:
        return admin, None
    password = os.environ.get("OWLGRID_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    admin = users.objects.create_superuser("admin", "admin@example.com", password)
    return admin, password


def ensure_group(admin: Any, environments: dict[str, Environment]) -> SecurityGroup:
    group, created = SecurityGroup.objects.get_or_create(
        name="ops",
        defaults={
            "description": "Operators: build, run, approve and deploy everywhere.",
            "can_view": True, "can_edit": True, "can_run": True, "can_approve": True,
            "can_call_triggers": True,
        },
    )
    if created:
        group.members.add(admin)
        group.deploy_environments.set(environments.values())
    return group


def ensure_variables(environments: dict[str, Environment]) -> None:
    for name, env in environments.items():
        base = f"{settings.SITE_URL}/hooks/{name}" if name != "prod" else "https://api.example.com"
        Variable.objects.get_or_create(environment=env, name="API_BASE",
                                       defaults={"value": base})


def ensure_workflow(path: Path, admin: Any, group: SecurityGroup, dev: Environment) -> str | None:
    from workflows.format import workflow_import
    from workflows.models import Workflow

    document = json.loads(path.read_text())
    if Workflow.objects.filter(name=document["name"]).exists():
        return None
    version = workflow_import(document=document, user=admin, publish=True)
    workflow = version.workflow
    workflow.perimeters.add(group)
    Deployment.objects.create(workflow=workflow, environment=dev, version=version,
                              deployed_by=admin)
    PromotionRecord.objects.create(workflow=workflow, kind="deploy", target=dev,
                                   version=version, user=admin, note="demo")
    return workflow.name
