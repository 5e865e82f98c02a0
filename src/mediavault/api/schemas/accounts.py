"""Users, keys, tokens, cookie sets, notification targets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CookiesCreate",
    "CookiesPublic",
    "KeyCreate",
    "KeyCreated",
    "KeyPublic",
    "NotifyPublic",
    "NotifyUpdate",
    "TokenPublic",
    "TokenRequest",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]

_NAME = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.@-]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserCreate(_In):
    name: str = _NAME
    admin: bool = False
    password: str | None = Field(default=None, min_length=8, max_length=256)
    quota_daily_downloads: int | None = Field(default=None, ge=0, le=1_000_000)
    quota_storage_bytes: int | None = Field(default=None, ge=0, le=2**62)
    quota_concurrent_jobs: int | None = Field(default=None, ge=0, le=10_000)


class UserUpdate(_In):
    role: Literal["admin", "user"] | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    quota_daily_downloads: int | None = Field(default=None, ge=0, le=1_000_000)
    quota_storage_bytes: int | None = Field(default=None, ge=0, le=2**62)
    quota_concurrent_jobs: int | None = Field(default=None, ge=0, le=10_000)


class UserPublic(_Out):
    id: str
    name: str
    role: Literal["admin", "user"]
    disabled: bool
    quota_daily_downloads: int | None
    quota_storage_bytes: int | None
    quota_concurrent_jobs: int | None
    created_at: datetime


class KeyCreate(_In):
    name: str | None = Field(default=None, max_length=120)
    user: str | None = Field(
        default=None, max_length=120, description="admin only: id or name of the key's owner"
    )


class KeyPublic(_Out):
    id: str
    user_id: str
    name: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="the API key itself; shown only in this response")


class TokenRequest(_In):
    username: str | None = Field(default=None, max_length=120)
    password: str | None = Field(default=None, max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    expires_in: int


class CookiesCreate(_In):
    cookies: str = Field(
        min_length=1,
        max_length=512_000,
        description="Netscape cookies.txt content or a 'name=value; name2=value2' header",
    )
    name: str = Field(default="default", min_length=1, max_length=120)
    platform: str = Field(default="generic", min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    domain: str | None = Field(
        default=None, max_length=255, description="domain for header-style cookies"
    )


class CookiesPublic(_Out):
    id: str
    name: str
    platform: str
    created_at: datetime
    updated_at: datetime
    cookie_count: int | None = None


class NotifyUpdate(_In):
    urls: list[Annotated[str, Field(min_length=3, max_length=2048)]] = Field(
        max_length=20, description="Apprise URLs (tgram://, mailto://, json://...)"
    )


class NotifyPublic(BaseModel):
    targets: list[str] = Field(description="scheme and host of each URL; tokens are never shown")
