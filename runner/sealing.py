"""Marked values (workflows/taint.py) as the journal stores them, as people see them, and back.

Stored, in the step inputs and outputs a resumed run reads again: a secret variable used as it
is becomes ⟦secret:NAME⟧, a value derived from secrets ⟦sealed:TOKEN⟧ (TOKEN: the value
encrypted with the site's keys, environments/secrets.py), and the text around them stays as it
is. A literal ⟦ in data is stored doubled, so nothing a caller sends can pose as a secret.
Shown: ⟦sealed:…⟧ becomes ⟦secret⟧ and ⟦⟦ a single ⟦.
Hydrated: the stored form back into marked values holding the real secrets, for the action that
sends them out, and for the steps after a resumed one.
"""

from __future__ import annotations

import re
from typing import Any

from environments import secrets as crypto
from environments.secrets import MIN_MASKED_LENGTH
from workflows.actions.base import ActionError
from workflows.taint import Piece, Tainted, assemble

OPEN = "\u27e6"
CLOSE = "\u27e7"
STORED = re.compile(
    "\u27e6(?:(?P<literal>\u27e6)|secret:(?P<name>[A-Za-z_][A-Za-z0-9_]*)\u27e7"
    "|sealed:(?P<token>[A-Za-z0-9_=-]+)\u27e7)")
SHOWN_SECRET = f"{OPEN}secret{CLOSE}"


class Sealer:
    """Seals and hydrates one run's values; `secrets`: its environment's secret variables."""

    def __init__(self, secrets: dict[str, str], *, revealed: list[str]):
        """`revealed`: the run's list of values masked by value; the derived secrets this
        sealer decrypts for an action join it, so what the action echoes of them is masked."""
        self.secrets = secrets
        self.tokens: dict[str, str] = {}  # a value is encrypted once per run...
        self.values: dict[str, str] = {}  # ...and a token decrypted once
        self.revealed = revealed

    def seal(self, value: Any) -> Any:
        if isinstance(value, str):
            if isinstance(value, Tainted):
                return "".join(self._stored_piece(piece) for piece in value.pieces)
            return value.replace(OPEN, OPEN + OPEN) if OPEN in value else value
        if isinstance(value, dict):
            return {self.seal(key): self.seal(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.seal(item) for item in value]
        return value

    def _stored_piece(self, piece: Piece) -> str:
        if isinstance(piece, str):
            return piece.replace(OPEN, OPEN + OPEN)
        secret, name = piece
        if name is not None and self.secrets.get(name) == secret:
            return f"{OPEN}secret:{name}{CLOSE}"
        token = self.tokens.get(secret)
        if token is None:
            token = self.tokens[secret] = crypto.encrypt(secret)
        return f"{OPEN}sealed:{token}{CLOSE}"

    def hydrate(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._hydrate_text(value) if OPEN in value else value
        if isinstance(value, dict):
            return {self.hydrate(key): self.hydrate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.hydrate(item) for item in value]
        return value

    def _hydrate_text(self, text: str) -> str:
        pieces: list[Piece] = []
        position = 0
        for match in STORED.finditer(text):
            pieces.append(text[position:match.start()])
            position = match.end()
            if match["literal"]:
                pieces.append(OPEN)
            elif match["name"]:
                pieces.append((self._secret(match["name"]), match["name"]))
            else:
                pieces.append((self._unseal(match["token"]), None))
        pieces.append(text[position:])
        return assemble(pieces)

    def _secret(self, name: str) -> str:
        if name not in self.secrets:
            raise ActionError(f"the secret variable {name!r} is no longer in this environment",
                              kind="missing_secret")
        return self.secrets[name]

    def _unseal(self, token: str) -> str:
        if token in self.values:
            return self.values[token]
        try:
            secret = crypto.decrypt(token)
        except crypto.SecretDecryptionError:
            raise ActionError("a stored secret value cannot be decrypted with the configured "
                              "OWLGRID_SECRETS_KEYS", kind="missing_secret") from None
        self.tokens.setdefault(secret, token)
        self.values[token] = secret
        self.reveal([secret])
        return secret

    def reveal(self, values: list[str]) -> None:
        """Mask these derived values by value from now on in this run (too short ones aside)."""
        self.revealed.extend(value for value in dict.fromkeys(values)
                             if len(value) >= MIN_MASKED_LENGTH and value not in self.revealed)


def shown(value: Any) -> Any:
    """The stored form as people see it: sealed values as ⟦secret⟧, a doubled ⟦ single."""
    if isinstance(value, str):
        if OPEN not in value:
            return value
        return STORED.sub(lambda m: OPEN if m["literal"] else (
            m.group(0) if m["name"] else SHOWN_SECRET), value)
    if isinstance(value, dict):
        return {shown(key): shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def shown_text(value: Any) -> Any:
    """A marked value as people see it, straight from the render: the secret parts named."""
    if isinstance(value, Tainted):
        return "".join(piece if isinstance(piece, str) else (
            f"{OPEN}secret:{piece[1]}{CLOSE}" if piece[1] else SHOWN_SECRET)
            for piece in value.pieces)
    if isinstance(value, dict):
        return {shown_text(key): shown_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shown_text(item) for item in value]
    return value
