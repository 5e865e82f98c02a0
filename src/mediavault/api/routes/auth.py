"""``POST /auth/token``: a JWT for a user name + password, or for the presented API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.security import APIKeyHeader

from mediavault import accounts
from mediavault.api.deps import ServicesDep, SessionDep
from mediavault.api.schemas.accounts import TokenPublic, TokenRequest
from mediavault.errors import AuthError

router = APIRouter(prefix="/auth", tags=["auth"])

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")


@router.post(
    "/token", response_model=TokenPublic, summary="Exchange a password or API key for a JWT"
)
def token(
    services: ServicesDep,
    session: SessionDep,
    api_key: Annotated[str | None, Depends(_api_key)],
    body: Annotated[TokenRequest | None, Body()] = None,
) -> TokenPublic:
    if body is not None and body.username and body.password:
        user = accounts.authenticate_password(session, body.username, body.password)
    elif api_key:
        user = accounts.user_by_key(session, api_key)
    else:
        raise AuthError("send a username and password, or an X-API-Key header")
    access, ttl = accounts.issue_jwt(services.settings, user)
    return TokenPublic(access_token=access, expires_in=ttl)
