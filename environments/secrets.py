"""Secrets at rest (MultiFernet, rotatable keys) and masking by value wherever text is shown.

The first key of OWLGRID_SECRETS_KEYS encrypts; every key decrypts, so a new key is added in
front, `manage.py rotate_keys` re-encrypts everything with it, and the old key can then go.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from django.conf import settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

MASK = "••••••"
MIN_MASKED_LENGTH = 4


class SecretDecryptionError(ValueError):
    """A stored secret that none of the configured keys can decrypt."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    # Imported on the first secret encrypted or decrypted, not with this module: cryptography's
    # Rust bindings take real memory, and an idle worker, or one whose runs use no secret,
    # never needs them.
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.OWLGRID_SECRETS_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a secret cannot be decrypted with the configured OWLGRID_SECRETS_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the first (newest) key."""
    from cryptography.fernet import InvalidToken

    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a secret cannot be decrypted with the configured keys"
        ) from None


def encrypt_json(values: dict[str, Any]) -> str:
    return encrypt(json.dumps(values, sort_keys=True))


def decrypt_json(token: str) -> dict[str, Any]:
    return json.loads(decrypt(token)) if token else {}


def encoded_forms(secret: str) -> set[str]:
    """The ways a secret may be echoed: plain, base64, URL-encoded, JSON-escaped."""
    raw = secret.encode()
    forms = {
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}


def mask(text: str, secrets: list[str]) -> str:
    """Replace every secret, in every encoded form, by a mask; longest forms first."""
    if not text or not secrets:
        return text
    forms = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_MASKED_LENGTH:
            forms |= encoded_forms(secret)
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    return text


def mask_value(value: Any, secrets: list[str]) -> Any:
    """Mask secrets anywhere in a JSON value (keys and values)."""
    if isinstance(value, str):
        return mask(value, secrets)
    if isinstance(value, dict):
        return {mask(str(k), secrets): mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, secrets) for item in value]
    return value
