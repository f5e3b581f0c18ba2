"""Writes on environments: the chain, variables and secrets, connections, security groups.

Secret values are write-only: they are encrypted on the way in and never returned; a blank
secret field on an edit keeps the stored value.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from access.models import SecurityGroup
from environments import secrets
from environments.models import Connection, Environment, Variable


@transaction.atomic
def environment_create(*, name: str, label: str = "") -> Environment:
    last = Environment.objects.order_by("-position").values_list("position", flat=True).first()
    environment = Environment(name=name, label=label, position=(last or 0) + 1)
    environment.full_clean()
    environment.save()
    return environment


def environment_relabel(*, environment: Environment, label: str) -> None:
    Environment.objects.filter(id=environment.id).update(label=label.strip()[:100])


def environment_set_expression_limits(*, environment: Environment, time_limit_ms: int | None,
                                      size_limit: int | None) -> None:
    """Set the environment's expression budgets; None keeps one as it is, 0 returns it to the
    site's default. Out-of-range values are refused with the field named."""
    if time_limit_ms is not None:
        environment.expression_time_limit_ms = time_limit_ms or None
    if size_limit is not None:
        environment.expression_size_limit = size_limit or None
    environment.full_clean(exclude=["deployer_groups"])
    environment.save(update_fields=["expression_time_limit_ms", "expression_size_limit"])


@transaction.atomic
def environment_move(*, environment: Environment, up: bool) -> None:
    """Swap the environment with its neighbour in the chain."""
    neighbour = environment.previous_in_chain() if up else environment.next_in_chain()
    if neighbour is None:
        return
    mine, theirs = environment.position, neighbour.position
    Environment.objects.filter(id=environment.id).update(position=0)
    Environment.objects.filter(id=neighbour.id).update(position=mine)
    Environment.objects.filter(id=environment.id).update(position=theirs)


def variable_set(*, environment: Environment, name: str, value: str, is_secret: bool) -> Variable:
    """Create or replace a variable; a secret is stored encrypted only."""
    variable = Variable.objects.filter(environment=environment, name=name).first() or Variable(
        environment=environment, name=name)
    variable.is_secret = is_secret
    if is_secret:
        if value or not variable.encrypted_value:
            variable.encrypted_value = secrets.encrypt(value)
        variable.value = ""
    else:
        variable.value, variable.encrypted_value = value, ""
    variable.full_clean(validate_unique=False)
    variable.save()
    return variable


def connection_save(*, environment: Environment, name: str, kind: str, config: dict[str, Any],
                    secret_values: dict[str, str]) -> Connection:
    """Create or update a connection; blank secret fields keep what is stored."""
    connection = Connection.objects.filter(environment=environment, name=name).first() or (
        Connection(environment=environment, name=name))
    stored = secrets.decrypt_json(connection.encrypted_secrets)
    stored.update({key: value for key, value in secret_values.items() if value})
    connection.kind, connection.config = kind, config
    connection.encrypted_secrets = secrets.encrypt_json(stored) if stored else ""
    connection.full_clean(exclude=["last_test_ok"], validate_unique=False)
    connection.save()
    return connection


def connection_test(*, connection: Connection) -> tuple[bool, str]:
    """A real check of the connection (HTTP request, SMTP login, Slack probe), remembered."""
    values = secrets.decrypt_json(connection.encrypted_secrets)
    try:
        ok, message = PROBES[connection.kind](connection.config, values)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the shown outcome
        ok, message = False, f"{type(exc).__name__}: {exc}"
    message = secrets.mask(message, [v for v in values.values() if isinstance(v, str)])
    Connection.objects.filter(id=connection.id).update(
        last_test_ok=ok, last_test_message=message[:1000], last_tested_at=timezone.now())
    return ok, message


def probe_http(config: dict, values: dict) -> tuple[bool, str]:
    from workflows import outbound

    url = str(config.get("base_url", "")).rstrip("/") + "/" + str(
        config.get("health_path", "")).lstrip("/")
    headers: dict[str, str] = {}
    auth = config.get("auth_type", "none")
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {values.get('token', '')}"
    elif auth == "header":
        headers[str(config.get("header_name", "X-API-Key"))] = values.get("header_value", "")
    basic = (config.get("username", ""), values.get("password", "")) if auth == "basic" else None
    response = outbound.send("GET", url, timeout=10, headers=headers, auth=basic)
    return response.status_code < 400, f"HTTP {response.status_code} from {url}"


def probe_smtp(config: dict, values: dict) -> tuple[bool, str]:
    from workflows import outbound

    host, port = config.get("host", "localhost"), int(config.get("port", 25))
    try:
        outbound.vet_host(host, port)
    except outbound.OutboundRefused as exc:
        return False, f"refused: {exc}"
    client_class = smtplib.SMTP_SSL if config.get("use_ssl") else smtplib.SMTP
    with client_class(host, port, timeout=10) as client:
        client.ehlo()
        if config.get("use_tls"):
            client.starttls()
        if config.get("username"):
            client.login(config["username"], values.get("password", ""))
    return True, f"SMTP server {host}:{port} accepted the connection"


def probe_slack(config: dict, values: dict) -> tuple[bool, str]:
    from workflows import outbound

    if values.get("bot_token"):
        api = str(config.get("api_base", "https://slack.com/api")).rstrip("/")
        response = outbound.send("POST", f"{api}/auth.test", timeout=10,
                                 headers={"Authorization": f"Bearer {values['bot_token']}"})
        data = response.json() if "json" in response.headers.get("content-type", "") else {}
        return bool(data.get("ok")), f"Slack auth.test: {data.get('error', 'ok')}"
    url = values.get("webhook_url") or config.get("webhook_url", "")
    # An empty message is refused with "no_text" by a live webhook: it proves the URL answers.
    response = outbound.send("POST", url, timeout=10, json={})
    reachable = response.status_code == 200 or "no_text" in response.text
    return reachable, f"webhook answered {response.status_code}"


PROBES = {"http": probe_http, "smtp": probe_smtp, "slack": probe_slack}


def group_set_rights(*, group: SecurityGroup, rights: dict[str, bool],
                     deploy_environments: list[Environment]) -> None:
    for name in RIGHT_NAMES:
        setattr(group, name, bool(rights.get(name)))
    group.save()
    group.deploy_environments.set(deploy_environments)


def rotate_all_secrets() -> dict[str, int]:
    """Re-encrypt every secret with the newest key; returns how many of each were rotated."""
    counts = {"variables": 0, "connections": 0}
    with transaction.atomic():
        for variable in Variable.objects.select_for_update().filter(is_secret=True):
            Variable.objects.filter(id=variable.id).update(
                encrypted_value=secrets.rotate(variable.encrypted_value))
            counts["variables"] += 1
        for connection in Connection.objects.select_for_update().exclude(encrypted_secrets=""):
            Connection.objects.filter(id=connection.id).update(
                encrypted_secrets=secrets.rotate(connection.encrypted_secrets))
            counts["connections"] += 1
    return counts


RIGHT_NAMES = ("can_view", "can_edit", "can_run", "can_approve", "can_call_triggers", "is_admin")


class InUse(ValidationError):
    """A delete refused because a deployed version still needs the thing."""


def deployed_users_of(kind: str, name: str, environment: Environment | None = None) -> list[str]:
    """`workflow@environment` for every deployment whose version needs `name` (of `kind`)."""
    from environments.models import Deployment
    from environments.promotion import references

    deployments = Deployment.objects.select_related("workflow", "environment", "version")
    if environment is not None:
        deployments = deployments.filter(environment=environment)
    return [f"{d.workflow.name}@{d.environment.name}" for d in deployments
            if name in references(d.version)[kind]]


def refuse_if_deployed(kind: str, name: str, environment: Environment | None = None) -> None:
    if users := deployed_users_of(kind, name, environment):
        raise InUse(f"{name} is used by deployed workflows: {', '.join(users)}. "
                    "Deploy versions that do not need it first.")


def variable_delete(*, variable: Variable) -> None:
    refuse_if_deployed("variables", variable.name, variable.environment)
    variable.delete()


def connection_delete(*, connection: Connection) -> None:
    refuse_if_deployed("connections", connection.name, connection.environment)
    connection.delete()


def connection_secret_names(connection: Connection) -> list[str]:
    """Which secret fields are set (never their values)."""
    return sorted(secrets.decrypt_json(connection.encrypted_secrets))


@transaction.atomic
def group_create(*, name: str, description: str = "", rights: dict[str, bool] | None = None,
                 deploy_environments: list[Environment] | None = None) -> SecurityGroup:
    """A new security group; rights not given keep the model's defaults (view only)."""
    group = SecurityGroup(name=name, description=description)
    for right, value in (rights or {}).items():
        if right in RIGHT_NAMES:
            setattr(group, right, bool(value))
    group.full_clean()
    group.save()
    group.deploy_environments.set(deploy_environments or [])
    return group


def group_delete(*, group: SecurityGroup) -> None:
    """Delete a group with its tokens; refused while a deployed trigger or approval names it."""
    refuse_if_deployed("groups", group.name)
    group.delete()
