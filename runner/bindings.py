"""What a run may read from its environment: variables, secrets and connections.

Expressions see each secret variable as a marked string (workflows/taint.py): whatever is
derived from it stays marked, is journaled sealed and shown hidden (runner/sealing.py), and
reaches only the action that sends it out. Every secret value is also masked by value, in
every encoding, in anything stored or shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection as db_connection

from environments.models import Connection, Environment, Variable
from workflows.actions.base import ActionError, ConnectionInfo
from workflows.taint import Tainted


@dataclass
class Bindings:
    env: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    connections: dict[str, ConnectionInfo] = field(default_factory=dict, repr=False)

    def secret_values(self) -> list[str]:
        values = list(self.secrets.values())
        for connection in self.connections.values():
            values.extend(v for v in connection.secrets.values() if isinstance(v, str))
        return [v for v in values if v]

    def connection(self, name: str, kind: str) -> ConnectionInfo:
        info = self.connections.get(name)
        if info is None:
            raise ActionError(
                f"no connection named {name!r} in this environment", kind="missing_connection"
            )
        if info.kind != kind:
            raise ActionError(
                f"connection {name!r} is a {info.kind} connection, not {kind}",
                kind="wrong_connection_kind",
            )
        return info


def load_bindings(environment: Environment | None, *, signature: tuple | None = None) -> Bindings:
    """The environment's variables and connections, secrets decrypted.

    Every run starts with this, and loading through the ORM and decrypting is costly, so the
    result is kept per process and re-used while one raw query, read first, returns the same
    (id, updated_at) rows: every change made through a model's save() or
    delete() (the pages, the API, the admin) changes them. `signature`: those rows, when the
    caller has just read them with its own query (`signature_sql`, an HTTP trigger reads them
    with its route).
    """
    if environment is None:
        return Bindings()
    if signature is None:
        signature = _signature(environment.pk)
    cached = _LOADED.get(environment.pk)
    if cached is None or cached[0] != signature:
        cached = (signature, _load(environment))
        if len(_LOADED) >= CACHE_LIMIT:
            _LOADED.clear()
        _LOADED[environment.pk] = cached
    loaded = cached[1]
    return Bindings(env=dict(loaded.env), secrets=dict(loaded.secrets),
                    connections=dict(loaded.connections))


_LOADED: dict[Any, tuple[tuple, Bindings]] = {}
CACHE_LIMIT = 256


def signature_sql(environment: str) -> str:
    """SQL for the rows (kind, id, updated_at) that say whether an environment's bindings
    changed, as text; `environment` is SQL for the environment's id (a placeholder or a
    subquery, which appears twice)."""
    sql = (  # noqa: S608 - our table names; the values are parameters
        "SELECT 'v' AS kind, CAST(id AS TEXT) AS id, CAST(updated_at AS TEXT) AS at "
        "FROM {variables} WHERE environment_id = {environment} "
        "UNION ALL SELECT 'c', CAST(id AS TEXT), CAST(updated_at AS TEXT) FROM {connections} "
        "WHERE environment_id = {environment}"
    )
    return sql.format(variables=Variable._meta.db_table, connections=Connection._meta.db_table,
                      environment=environment)


def signature_of(rows: list[tuple]) -> tuple:
    return tuple(sorted(tuple(row) for row in rows))


def _signature(environment_id: Any) -> tuple:
    with db_connection.cursor() as cursor:
        cursor.execute(signature_sql("%s"), [environment_id, environment_id])
        return signature_of(cursor.fetchall())


def _load(environment: Environment) -> Bindings:
    from environments import secrets as crypto

    bindings = Bindings()
    for variable in Variable.objects.filter(environment=environment):
        if variable.is_secret:
            bindings.secrets[variable.name] = crypto.decrypt(variable.encrypted_value)
            bindings.env[variable.name] = Tainted.secret(bindings.secrets[variable.name],
                                                          variable.name)
        else:
            bindings.env[variable.name] = variable.value
    for connection in Connection.objects.filter(environment=environment):
        secrets = (
            crypto.decrypt_json(connection.encrypted_secrets)
            if connection.encrypted_secrets
            else {}
        )
        bindings.connections[connection.name] = ConnectionInfo(
            name=connection.name, kind=connection.kind, config=connection.config, secrets=secrets
        )
    return bindings
