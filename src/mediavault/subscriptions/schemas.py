"""Subscription input/output shapes shared by the API, the CLI and the service."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mediavault.config import parse_duration
from mediavault.errors import ConfigError
from mediavault.models import DownloadOptions

__all__ = [
    "MIN_INTERVAL_SECONDS",
    "SubscriptionCreate",
    "SubscriptionFilters",
    "SubscriptionPublic",
    "SubscriptionUpdate",
]

MIN_INTERVAL_SECONDS = 60
_DATE = r"^\d{8}$"


class SubscriptionFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_after: str | None = Field(default=None, pattern=_DATE, description="YYYYMMDD")
    date_before: str | None = Field(default=None, pattern=_DATE, description="YYYYMMDD")
    min_duration: float | None = Field(default=None, ge=0)
    max_duration: float | None = Field(default=None, ge=0)
    title_regex: str | None = Field(default=None, max_length=500)
    title_exclude: str | None = Field(default=None, max_length=500)

    @field_validator("title_regex", "title_exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from exc
        return value


def _interval(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(parse_duration(value))
        except ConfigError as exc:  # a validation error, not a configuration one
            raise ValueError(exc.message) from exc
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=4000)
    name: str | None = Field(default=None, max_length=255)
    options: DownloadOptions = Field(default_factory=DownloadOptions)
    filters: SubscriptionFilters = Field(default_factory=SubscriptionFilters)
    mode: Literal["new", "all"] = "all"
    max_items: int | None = Field(default=None, ge=1, le=100_000)
    interval_seconds: int = Field(default=3600, ge=MIN_INTERVAL_SECONDS, le=365 * 86400)
    enabled: bool = True

    _interval = field_validator("interval_seconds", mode="before")(_interval)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    options: DownloadOptions | None = None
    filters: SubscriptionFilters | None = None
    max_items: int | None = Field(default=None, ge=1, le=100_000)
    interval_seconds: int | None = Field(default=None, ge=MIN_INTERVAL_SECONDS, le=365 * 86400)
    enabled: bool | None = None

    _interval = field_validator("interval_seconds", mode="before")(_interval)


class SubscriptionPublic(BaseModel):
    id: str
    url: str
    platform: str | None
    name: str | None
    options: dict[str, Any]
    filters: dict[str, Any]
    mode: str
    max_items: int | None
    interval_seconds: int
    enabled: bool
    next_sync_at: datetime
    last_sync_at: datetime | None
    last_result: dict[str, Any] | None = None
    backfill_done: bool | None = None
    created_at: datetime
