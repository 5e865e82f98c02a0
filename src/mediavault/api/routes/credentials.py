"""``/credentials/{platform}``: the caller's own platform session (cookie, user agent,
token), stored encrypted; it can be replaced or deleted, and is never returned."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.errors import NotFoundError
from mediavault.subscriptions.store import CredentialStore

router = APIRouter(prefix="/credentials", tags=["credentials"])

PlatformName = Path(pattern=r"^[a-z0-9_]{2,32}$", description="e.g. onlyfans, fansly")


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cookie: str = Field(min_length=1, max_length=16_384)
    user_agent: str = Field(min_length=1, max_length=1024)
    token: str | None = Field(default=None, max_length=4096, description="x-bc / auth token")


class CredentialsPublic(BaseModel):
    platform: str
    created_at: datetime
    updated_at: datetime


@router.put(
    "/{platform}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Store (or replace) your session for a platform; it is never returned",
)
async def put_credentials(
    body: CredentialsIn, user: CurrentUser, services: ServicesDep, platform: str = PlatformName
) -> Response:
    await CredentialStore.of(services.db, services.settings).set(
        user.id, platform, body.model_dump(exclude_none=True)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "", response_model=list[CredentialsPublic], summary="Platforms you stored a session for"
)
async def list_credentials(user: CurrentUser, services: ServicesDep) -> list[CredentialsPublic]:
    rows = await CredentialStore.of(services.db, services.settings).platforms(user.id)
    return [CredentialsPublic(**row) for row in rows]


@router.delete(
    "/{platform}", status_code=status.HTTP_204_NO_CONTENT, summary="Forget a platform session"
)
async def delete_credentials(
    user: CurrentUser, services: ServicesDep, platform: str = PlatformName
) -> Response:
    if not await CredentialStore.of(services.db, services.settings).delete(user.id, platform):
        raise NotFoundError(f"no stored {platform} credentials")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
