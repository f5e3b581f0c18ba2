"""Promotion of a deployed version to the next environment, after checks.

Every check runs; all failures are reported together in plain words, and nothing changes unless
all pass. Promotions of one workflow are serialised by a lock on the workflow row, so two
concurrent promotions cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode

from environments.models import Connection, Deployment, Environment, PromotionRecord, Variable
from environments.permissions import user_may_deploy_to
from workflows.models import Workflow, WorkflowVersion


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    # Where a failing check is fixed: (what to do, page), e.g. ("set BIN_BASE in prod", url).
    fixes: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "message": self.message}


@dataclass
class PromotionPlan:
    workflow: Workflow
    source: Environment | None
    target: Environment
    version: WorkflowVersion | None
    current: WorkflowVersion | None
    checks: list[Check] = field(default_factory=list)
    diff: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [check.message for check in self.checks if not check.ok]


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """A plan's diff against what the target runs, as lines for a terminal."""
    lines = [f"renamed {old} -> {new}" for new, old in (diff.get("renamed") or {}).items()]
    lines += [f"added {name}" for name in diff.get("added") or []]
    lines += [f"removed {name}" for name in diff.get("removed") or []]
    lines += [f"changed {name}: {', '.join(fields)}"
              for name, fields in (diff.get("changed") or {}).items()]
    lines += [f"moved {name}: {move['from']} -> {move['to']}"
              for name, move in (diff.get("moved") or {}).items()]
    triggers = diff.get("triggers") or {}
    lines += [f"trigger {verb} {name}" for verb in ("added", "removed", "changed")
              for name in triggers.get(verb) or []]
    lines += [f"metadata changed: {field}" for field in diff.get("metadata") or []]
    return lines


class PromotionRefused(Exception):  # noqa: N818 - reads as the outcome
    def __init__(self, plan: PromotionPlan):
        super().__init__("; ".join(plan.failures))
        self.plan = plan


def references(version: WorkflowVersion) -> dict[str, set[str]]:
    """Variables, connections and security groups a version needs, by name."""
    from workflows.format import requirements, version_document

    document = version_document(version)
    needs = requirements(version.requires or {}, document["actions"])
    groups = {t["access"]["group"] for t in document["triggers"]
              if t["access"]["mode"] == "group"}
    secrets = {t["access"]["secret_variable"] for t in document["triggers"]
               if t["access"]["mode"] == "hmac"}
    from workflows.format import walk

    groups |= {a["inputs"]["group"] for a in walk(document["actions"])
               if a["type"] == "approval" and isinstance(a["inputs"].get("group"), str)}
    return {"variables": set(needs["variables"]) | secrets,
            "connections": set(needs["connections"]), "groups": groups}


def check_right(user: Any, target: Environment) -> Check:
    ok = user_may_deploy_to(user, target)
    return Check("right", ok, f"You may deploy to {target.name}." if ok else
                 f"You may not deploy to {target.name}: ask an administrator for the right.")


def check_chain(source: Environment | None, target: Environment, *, rollback: bool) -> Check:
    if source is None:
        first = Environment.objects.order_by("position").first()
        if rollback or (first is not None and first.id == target.id):
            return Check("chain", True, f"Deployment to {target.name}.")
        return Check("chain", False, f"A first deployment goes to {first.name}, the start of "
                                     f"the chain, not to {target.name}.")
    expected = source.next_in_chain()
    if expected is not None and expected.id == target.id:
        return Check("chain", True, f"{target.name} follows {source.name}.")
    if expected is None:
        return Check("chain", False, f"{source.name} is the last environment of the chain.")
    return Check("chain", False, f"{source.name} promotes to {expected.name} first, "
                                 f"not to {target.name}.")


def check_version(version: WorkflowVersion | None, source: Environment | None) -> Check:
    if version is None:
        where = source.name if source else "the source"
        return Check("version", False, f"Nothing is deployed in {where}.")
    editor = reverse("workflows:edit", args=[version.workflow.name])
    if not version.is_published:
        return Check("version", False, f"Version {version.number} is a draft: publish it first.",
                     [("publish it in the editor", editor)])
    from workflows.format import version_document
    from workflows.format_validation import check_document, where

    document = version_document(version)
    problems = check_document(document)
    if problems:
        listed = "; ".join(f"{where(document, path)}: {message}"
                           for path, message in problems[:5])
        return Check("version", False, f"Version {version.number} is not valid: {listed}",
                     [("fix it in the editor", editor)])
    return Check("version", True, f"Version {version.number} is valid.")


def check_variables(names: set[str], target: Environment) -> Check:
    present = {
        v.name for v in Variable.objects.filter(environment=target, name__in=names)
        if (v.encrypted_value if v.is_secret else v.value)
    }
    missing = sorted(names - present)
    if missing:
        page = reverse("environments:detail", args=[target.name])
        return Check("variables", False, f"{target.name} lacks or has empty variables: "
                                         f"{', '.join(missing)}.",
                     [(f"set {name} in {target.name}",
                       f"{page}?{urlencode({'variable': name})}#variable-form")
                      for name in missing])
    return Check("variables", True, f"All {len(names)} variable(s) are set in {target.name}.")


def check_connections(names: set[str], target: Environment) -> Check:
    from environments.services import connection_test

    problems, fixes = [], []
    page = reverse("environments:detail", args=[target.name])
    for name in sorted(names):
        connection = Connection.objects.filter(environment=target, name=name).first()
        if connection is None:
            problems.append(f"connection {name} does not exist in {target.name}")
            fixes.append((f"create connection {name} in {target.name}",
                          f"{page}?{urlencode({'connection': name})}#connection-form"))
            continue
        ok, message = connection_test(connection=connection)
        if not ok:
            problems.append(f"connection {name} fails its check: {message}")
            fixes.append((f"fix connection {name} in {target.name}",
                          f"{page}?{urlencode({'connection': name})}#connection-form"))
    if problems:
        return Check("connections", False, "; ".join(problems) + ".", fixes)
    return Check("connections", True, f"All {len(names)} connection(s) answer in {target.name}.")


def check_groups(names: set[str]) -> Check:
    from access.models import SecurityGroup

    missing = sorted(names - set(SecurityGroup.objects.filter(name__in=names).values_list(
        "name", flat=True)))
    if missing:
        return Check("groups", False, f"Security groups do not exist: {', '.join(missing)}.",
                     [(f"create security group {name}", reverse("environments:security_groups"))
                      for name in missing])
    return Check("groups", True, "Every security group named exists.")


def plan_promotion(*, workflow: Workflow, source: Environment | None, target: Environment,
                   user: Any, version: WorkflowVersion | None = None,
                   rollback: bool = False) -> PromotionPlan:
    """Run every check (the dry run) and compute the diff against what the target runs now.

    Without a source, this is a first deployment of the latest published version.
    """
    from workflows.diff import documents_diff
    from workflows.format import version_document

    if version is None and source is not None:
        deployment = Deployment.objects.filter(workflow=workflow, environment=source).first()
        version = deployment.version if deployment else None
    elif version is None:
        version = workflow.versions.filter(status=WorkflowVersion.Status.PUBLISHED).order_by(
            "-number").first()
    current_deployment = Deployment.objects.filter(workflow=workflow, environment=target).first()
    current = current_deployment.version if current_deployment else None
    plan = PromotionPlan(workflow, source, target, version, current)
    plan.checks = [check_right(user, target), check_chain(source, target, rollback=rollback),
                   check_version(version, source)]
    if version is not None:
        needs = references(version)
        plan.checks += [check_variables(needs["variables"], target),
                        check_connections(needs["connections"], target),
                        check_groups(needs["groups"])]
        if current is not None and current.id == version.id:
            plan.checks.append(Check("change", False, f"{target.name} already runs version "
                                                      f"{version.number}."))
        plan.diff = documents_diff(version_document(current) if current else None,
                                   version_document(version))
    return plan


def workflow_promote(*, workflow: Workflow, source: Environment | None, target: Environment,
                     user: Any, dry_run: bool = False, kind: str = "promote",
                     version: WorkflowVersion | None = None) -> PromotionPlan:
    """Deploy the source's version to the target if every check passes; audited."""
    options = {"workflow": workflow, "source": source, "target": target, "user": user,
               "version": version, "rollback": kind == "rollback"}
    if dry_run:
        return plan_promotion(**options)
    with transaction.atomic():
        Workflow.objects.select_for_update().get(id=workflow.id)
        plan = plan_promotion(**options)
        if not plan.ok:
            raise PromotionRefused(plan)
        Deployment.objects.update_or_create(
            workflow=workflow, environment=target,
            defaults={"version": plan.version,
                      "deployed_by": user if getattr(user, "is_authenticated", False) else None},
        )
        PromotionRecord.objects.create(
            workflow=workflow, kind=kind if source or kind == "rollback" else "deploy",
            source=source, target=target, version=plan.version,
            previous_version=plan.current,
            user=user if getattr(user, "is_authenticated", False) else None,
            checks=[check.as_dict() for check in plan.checks],
        )
    return plan


def workflow_rollback(*, workflow: Workflow, environment: Environment, user: Any,
                      dry_run: bool = False) -> PromotionPlan:
    """Re-deploy the version the environment ran before its latest deployment, with the checks."""
    latest = PromotionRecord.objects.filter(workflow=workflow, target=environment).exclude(
        previous_version=None).first()
    if latest is None:
        plan = PromotionPlan(workflow, environment, environment, None, None)
        plan.checks = [Check("history", False, f"{environment.name} has no earlier version of "
                                               f"{workflow.name} to roll back to.")]
        if dry_run:
            return plan
        raise PromotionRefused(plan)
    return workflow_promote(workflow=workflow, source=None, target=environment, user=user,
                            dry_run=dry_run, kind="rollback", version=latest.previous_version)
