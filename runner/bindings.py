"""What a run may read from its environment: variables, secrets and connections.

Secrets are substituted last: expressions see an opaque placeholder for each secret variable,
rendered inputs are journaled with placeholders only, and the real value replaces the
placeholder right before the action executes. Every secret value is then masked by value in
anything stored or shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from environments.models import Connection, Environment, Variable
from workflows.actions.base import ActionError, ConnectionInfo

PLACEHOLDER = "\u27e6secret:{name}\u27e7"
PLACEHOLDER_PATTERN = re.compile("\u27e6secret:([A-Za-z_][A-Za-z0-9_]*)\u27e7")


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

    def substitute(self, value: Any) -> Any:
        """Replace secret placeholders by the real values, just before execution."""
        if isinstance(value, str):
            if "\u27e6secret:" not in value:
                return value
            return PLACEHOLDER_PATTERN.sub(lambda m: self.secrets.get(m.group(1), ""), value)
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value

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


def load_bindings(environment: Environment | None) -> Bindings:
    if environment is None:
        return Bindings()
    from environments import secrets as crypto

    bindings = Bindings()
    for variable in Variable.objects.filter(environment=environment):
        if variable.is_secret:
            bindings.secrets[variable.name] = crypto.decrypt(variable.encrypted_value)
            bindings.env[variable.name] = PLACEHOLDER.format(name=variable.name)
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
