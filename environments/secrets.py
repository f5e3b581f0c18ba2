"""Secrets at rest (MultiFernet, rotatable keys) and masking by value wherever text is shown.

The first key of OWLGRID_SECRETS_KEYS encrypts; every key decrypts, so a new key is added in
front, `manage.py rotate_keys` re-encrypts everything with it, and the old key can then go.
"""

from __future__ import annotations

import base64
import html
import json
from functools import cache, lru_cache
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


@lru_cache(maxsize=4096)
def encoded_forms(secret: str) -> frozenset[str]:
    """The ways a secret may be echoed: plain, base64 and base64url, URL-encoded (`%20` and
    `+`), JSON-escaped (also with every non-ASCII and HTML-special character as `\\u`),
    HTML-escaped, and inside a Python repr."""
    raw = secret.encode()
    json_ascii = json.dumps(secret)[1:-1]
    forms = {
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json_ascii,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json_ascii.translate(JSON_HTML_ESCAPES),
        html.escape(secret),
        html.escape(secret, quote=False),
        repr(secret)[1:-1],
    }
    return frozenset(form for form in forms if len(form) >= MIN_MASKED_LENGTH)


# How Django's json_script (and other HTML-safe JSON) writes these characters.
JSON_HTML_ESCAPES = str.maketrans({"<": "\\u003C", ">": "\\u003E", "&": "\\u0026"})


def mask(text: str, secrets: list[str]) -> str:
    """Replace every secret, in every encoded form, by a mask; longest forms first."""
    if not text or not secrets:
        return text
    forms: set[str] = set()
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
