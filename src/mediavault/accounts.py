"""Users, API keys, passwords, JWTs, quotas and per-user cookie sets.

Used by the REST API and by ``mediavault users|keys`` alike; every function takes a
SQLAlchemy ``Session`` and commits its own unit of work.

API keys look like ``mv_<prefix>_<secret>``; only the SHA-256 of the whole key is stored,
looked up by its prefix and compared in constant time. Cookie sets are stored encrypted
(:mod:`mediavault.crypto`) and never returned by the API.
"""

from __future__ import annotations

import hashlib
import hmac
import http.cookiejar
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from mediavault import crypto
from mediavault.config import Settings
from mediavault.errors import (
    AuthError,
    ConflictError,
    InputError,
    NotFoundError,
    QuotaExceededError,
)
from mediavault.jobs.tables import ApiKey, Credential, MediaFile, User, utcnow

__all__ = [
    "LOCAL_ADMIN",
    "Quotas",
    "StorageQuotaError",
    "authenticate_password",
    "create_key",
    "create_user",
    "delete_cookies",
    "enforce_storage_quota",
    "ensure_user",
    "get_user",
    "issue_jwt",
    "list_cookies",
    "list_keys",
    "list_users",
    "load_cookies",
    "local_admin",
    "netscape_text",
    "revoke_key",
    "storage_used",
    "store_cookies",
    "update_user",
    "user_by_jwt",
    "user_by_key",
]

LOCAL_ADMIN = "local"
KEY_PREFIX = "mv_"
_hasher = PasswordHasher()


class StorageQuotaError(QuotaExceededError):
    """The user's stored bytes reached their quota: no new downloads until some go."""

    code = "storage_quota_exceeded"
    http_status = 403


@dataclass(frozen=True, kw_only=True)
class Quotas:
    daily_downloads: int | None = None
    storage_bytes: int | None = None
    concurrent_jobs: int | None = None


# users ------------------------------------------------------------------------------


def create_user(
    session: Session,
    name: str,
    *,
    admin: bool = False,
    password: str | None = None,
    quotas: Quotas | None = None,
) -> User:
    name = name.strip()
    if not name or len(name) > 120:
        raise InputError("user name must be 1-120 characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    quotas = quotas or Quotas()
    user = User(
        name=name,
        role="admin" if admin else "user",
        password_hash=_hasher.hash(password) if password else None,
        quota_daily_downloads=quotas.daily_downloads,
        quota_storage_bytes=quotas.storage_bytes,
        quota_concurrent_jobs=quotas.concurrent_jobs,
    )
    session.add(user)
    try:
        session.commit()
    except SAIntegrityError as exc:  # a concurrent create of the same name
        session.rollback()
        raise ConflictError(f"user {name!r} already exists") from exc
    return user


def get_user(session: Session, user_id_or_name: str) -> User:
    user = session.get(User, user_id_or_name) or session.scalar(
        select(User).where(User.name == user_id_or_name)
    )
    if user is None:
        raise NotFoundError(f"no user {user_id_or_name!r}")
    return user


def ensure_user(session: Session, name: str, *, admin: bool = False) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is not None:
        return user
    try:
        return create_user(session, name, admin=admin)
    except ConflictError:  # created meanwhile by someone else
        return get_user(session, name)


def local_admin(session: Session) -> User:
    """The built-in admin that owns everything when ``MEDIAVAULT_AUTH=none``."""
    return ensure_user(session, LOCAL_ADMIN, admin=True)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.name)))


def update_user(session: Session, user: User, **fields: Any) -> User:
    for name, value in fields.items():
        if name == "password":
            user.password_hash = _hasher.hash(value) if value else None
        else:
            setattr(user, name, value)
    session.commit()
    return user


def authenticate_password(session: Session, name: str, password: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    stored = user.password_hash if user is not None else None
    try:
        ok = stored is not None and _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        raise AuthError("invalid user name or password")
    return user


# API keys ---------------------------------------------------------------------------


def _hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(session: Session, user: User, *, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key for ``user``: the record and the plaintext (shown once, never stored)."""
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(user_id=user.id, name=name, prefix=prefix, key_hash=_hash_key(plaintext))
    session.add(key)
    session.commit()
    return key, plaintext


def list_keys(session: Session, user: User | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return list(session.scalars(query))


def revoke_key(session: Session, key_id: str, *, owner: User | None = None) -> ApiKey:
    """Revoke a key; with ``owner`` only that user's keys are visible."""
    key = session.get(ApiKey, key_id)
    if key is None or (owner is not None and key.user_id != owner.id):
        raise NotFoundError(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.commit()
    return key


def user_by_key(session: Session, plaintext: str) -> User:
    """The active user owning ``plaintext``; AuthError otherwise (constant-time compare)."""
    parts = plaintext.split("_", 2)
    prefix = parts[1] if len(parts) == 3 and plaintext.startswith(KEY_PREFIX) else ""
    candidates = list(
        session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    )
    digest = _hash_key(plaintext)
    found: ApiKey | None = None
    if not candidates:  # same work as a miss on a real prefix
        hmac.compare_digest("0" * 64, digest)
    for key in candidates:
        if hmac.compare_digest(key.key_hash, digest):
            found = key
    if found is None:
        raise AuthError("invalid or revoked API key")
    user = session.get(User, found.user_id)
    if user is None or user.disabled:
        raise AuthError("invalid or revoked API key")
    now = utcnow()
    last = found.last_used_at
    if last is None or now - last > timedelta(minutes=1):  # bounded write rate
        session.commit()  # end the read transaction: the write below starts a fresh one
        found.last_used_at = now
        session.commit()
    return user


# JWT --------------------------------------------------------------------------------


def issue_jwt(settings: Settings, user: User) -> tuple[str, int]:
    now = datetime.now(UTC)
    ttl = settings.jwt_ttl_seconds
    claims = {"sub": user.id, "role": user.role, "iat": now, "exp": now + timedelta(seconds=ttl)}
    token = jwt.encode(claims, crypto.derive_key(settings, "mediavault:jwt"), algorithm="HS256")
    return token, ttl


def user_by_jwt(settings: Settings, session: Session, token: str) -> User:
    try:
        claims = jwt.decode(
            token,
            crypto.derive_key(settings, "mediavault:jwt"),
            algorithms=["HS256"],
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    user = session.get(User, str(claims["sub"]))
    if user is None or user.disabled:
        raise AuthError("invalid token: unknown user")
    return user


# quotas -----------------------------------------------------------------------------


def storage_used(session: Session, user_id: str | None = None) -> int:
    query = select(func.coalesce(func.sum(MediaFile.size), 0))
    if user_id is not None:
        query = query.where(MediaFile.user_id == user_id)
    return int(session.scalar(query) or 0)


def enforce_storage_quota(session: Session, user: User) -> None:
    """Raise ``StorageQuotaError`` (403) when the user's archive reached its byte quota.

    (Daily-download and concurrent-job quotas are enforced by ``JobService.submit``.)
    """
    if user.quota_storage_bytes is None:
        return
    used = storage_used(session, user.id)
    if used >= user.quota_storage_bytes:
        raise StorageQuotaError(
            f"storage quota reached ({used} of {user.quota_storage_bytes} bytes used)",
            detail={"quota": "storage_bytes", "limit": user.quota_storage_bytes, "used": used},
        )


# cookie sets ------------------------------------------------------------------------


def store_cookies(
    settings: Settings, session: Session, user: User, text: str, *, name: str, platform: str
) -> Credential:
    """Store a cookie set (already validated by the caller) encrypted; replaces same name."""
    existing = session.scalar(
        select(Credential).where(
            Credential.user_id == user.id,
            Credential.kind == "cookies",
            Credential.platform == platform,
            Credential.name == name,
        )
    )
    data = crypto.encrypt(settings, text.encode())
    if existing is not None:
        existing.data_enc = data
        existing.updated_at = utcnow()
        session.commit()
        return existing
    cred = Credential(user_id=user.id, kind="cookies", platform=platform, name=name, data_enc=data)
    session.add(cred)
    session.commit()
    return cred


def netscape_text(jar: http.cookiejar.CookieJar) -> str:
    """A cookie jar as Netscape ``cookies.txt`` text."""
    lines = ["# Netscape HTTP Cookie File"]
    for c in jar:
        lines.append(
            "\t".join(
                [
                    c.domain,
                    "TRUE" if c.domain.startswith(".") else "FALSE",
                    c.path or "/",
                    "TRUE" if c.secure else "FALSE",
                    str(c.expires or 0),
                    c.name,
                    c.value or "",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def _owned_cookies(session: Session, user_id: str | None, cookies_id: str) -> Credential:
    cred = session.get(Credential, cookies_id)
    if cred is None or cred.kind != "cookies" or cred.user_id != user_id:
        raise NotFoundError(f"no cookie set {cookies_id!r}")
    return cred


def list_cookies(session: Session, user: User) -> list[Credential]:
    query = select(Credential).where(Credential.user_id == user.id, Credential.kind == "cookies")
    return list(session.scalars(query.order_by(Credential.created_at)))


def delete_cookies(session: Session, user: User, cookies_id: str) -> None:
    session.delete(_owned_cookies(session, user.id, cookies_id))
    session.commit()


def load_cookies(settings: Settings, session: Session, user_id: str | None, cookies_id: str) -> str:
    """The decrypted cookie text of one of ``user_id``'s cookie sets (for the worker)."""
    return crypto.decrypt(settings, _owned_cookies(session, user_id, cookies_id).data_enc).decode()
