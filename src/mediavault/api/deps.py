"""FastAPI dependencies as ``Annotated`` aliases: settings, DB session, caller, services.

Authentication follows ``MEDIAVAULT_AUTH``:

- ``none``: every request acts as the built-in local admin (loopback binds only);
- ``apikey``: ``X-API-Key: mv_...`` (or ``Authorization: Bearer mv_...``);
- ``jwt``: ``Authorization: Bearer <jwt from POST /auth/token>``; API keys still work.

Browsers cannot set headers on EventSource/WebSocket, so ``?token=`` (a key or a JWT) is
accepted on the live-progress endpoints only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from mediavault import accounts
from mediavault.api.authcache import LOCAL_ADMIN
from mediavault.api.state import Services
from mediavault.config import Settings
from mediavault.errors import AuthError, ForbiddenError
from mediavault.jobs.tables import User
from mediavault.services import JobService

__all__ = [
    "AdminUser",
    "CurrentUser",
    "JobServiceDep",
    "ServicesDep",
    "SessionDep",
    "SettingsDep",
    "StreamUser",
    "WriteSessionDep",
    "authenticate",
    "authenticate_cached",
    "services_of",
]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency
# in its thread pool, a thread hop per request for a dictionary lookup.


def services_of(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


async def get_services(conn: HTTPConnection) -> Services:
    return services_of(conn)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.db.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_write_session(services: ServicesDep) -> Iterator[Session]:
    """For read-then-write requests: on SQLite the transaction takes the write lock at
    BEGIN, so it waits for other writers instead of failing with "database is locked"."""
    with services.db.write_sessionmaker() as session:
        yield session


WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def authenticate(services: Services, session: Session, credential: str | None) -> User:
    """The user a key/JWT belongs to (or the local admin when auth is off)."""
    settings = services.settings
    if settings.auth == "none":
        if services.local_admin_id is not None:
            user = session.get(User, services.local_admin_id)
            if user is not None:
                return user
        user = accounts.local_admin(session)
        services.local_admin_id = user.id
        return user
    if not credential:
        raise AuthError("authentication required: send X-API-Key or Authorization: Bearer")
    if credential.startswith(accounts.KEY_PREFIX):
        return accounts.user_by_key(session, credential)
    if settings.auth == "jwt":
        return accounts.user_by_jwt(settings, session, credential)
    raise AuthError("invalid or revoked API key")


def _authenticate_fresh(services: Services, credential: str | None) -> User:
    with services.db.sessionmaker() as session:
        user = authenticate(services, session, credential)
        session.expunge(user)
    slot = _cache_slot(services, credential)
    if slot is not None:
        services.auth_cache.put(slot, user)
    return user


def _cache_slot(services: Services, credential: str | None) -> str | None:
    """What a verified caller is cached under: API keys and the auth=none admin only
    (a JWT carries its own expiry, so it is checked every time)."""
    if services.settings.auth == "none":
        return LOCAL_ADMIN
    if credential and credential.startswith(accounts.KEY_PREFIX):
        return credential
    return None


async def authenticate_cached(services: Services, credential: str | None) -> User:
    """``authenticate`` with the short-lived key cache (``api.authcache``) in front."""
    slot = _cache_slot(services, credential)
    if slot is not None:
        user = services.auth_cache.get(slot)
        if user is not None:
            return user
    return await run_in_threadpool(_authenticate_fresh, services, credential)


async def current_user(
    services: ServicesDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    credential = api_key or (bearer.credentials if bearer is not None else None)
    return await authenticate_cached(services, credential)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if user.role != "admin":
        raise ForbiddenError("admin role required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def stream_user(conn: HTTPConnection, services: ServicesDep) -> User:
    """Caller of SSE/WebSocket endpoints: headers as usual, or ``?token=``."""
    credential = conn.headers.get("x-api-key")
    authorization = conn.headers.get("authorization", "")
    if not credential and authorization.lower().startswith("bearer "):
        credential = authorization[7:].strip()
    credential = credential or conn.query_params.get("token")
    return await authenticate_cached(services, credential)


StreamUser = Annotated[User, Depends(stream_user)]


async def get_job_service(services: ServicesDep) -> JobService:
    return services.jobs


JobServiceDep = Annotated[JobService, Depends(get_job_service)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
