"""Encryption at rest for cookies, credentials and webhook secrets.

One Fernet key (AES-128-CBC + HMAC-SHA256) derived from ``settings.secret_bytes()`` with
HKDF; a token that was made with another secret, or was altered, fails with a clear
``ConfigError`` instead of returning garbage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mediavault.config import Settings
from mediavault.errors import ConfigError

__all__ = ["decrypt", "derive_key", "encrypt", "sign"]


def derive_key(settings: Settings, purpose: str, length: int = 32) -> bytes:
    """A key for one ``purpose`` (``"fernet"``, ``"jwt"``...) derived from the secret."""
    return _derive(settings.secret_bytes(), purpose, length)


@lru_cache(maxsize=32)
def _derive(secret: bytes, purpose: str, length: int) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
    return hkdf.derive(secret)


@lru_cache(maxsize=8)
def _fernet(secret: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret, "mediavault:fernet", 32)))


def encrypt(settings: Settings, data: bytes) -> bytes:
    """Encrypt ``data`` with the service secret (the result is a URL-safe token)."""
    return _fernet(settings.secret_bytes()).encrypt(data)


def decrypt(settings: Settings, token: bytes) -> bytes:
    """Decrypt a token made by :func:`encrypt`; a wrong secret or tampering is an error."""
    try:
        return _fernet(settings.secret_bytes()).decrypt(token)
    except (InvalidToken, ValueError, TypeError) as exc:
        raise ConfigError(
            "stored secret cannot be decrypted: MEDIAVAULT_SECRET_KEY changed or data corrupt"
        ) from exc


def sign(key: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC>`` of ``body``: the webhook signature header value."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
