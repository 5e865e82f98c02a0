"""``/formats`` and ``/metadata``: what a URL offers, without downloading."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.errors import UPSTREAM_RESPONSES
from mediavault.api.extract import extract
from mediavault.api.schemas.extract import (
    CollectionPublic,
    FormatsPublic,
    ItemPublic,
    collection_public,
    format_public,
    item_public,
)
from mediavault.api.urls import MAX_URL_LENGTH
from mediavault.errors import InputError
from mediavault.models import MediaItem

router = APIRouter(tags=["extract"], responses=UPSTREAM_RESPONSES)

_URL = Query(min_length=8, max_length=MAX_URL_LENGTH, description="page or media URL")
_COOKIES = Query(None, max_length=32, description="cookie set from POST /auth/cookies")


@router.get("/formats", response_model=FormatsPublic, summary="Formats available for a URL")
async def formats(
    user: CurrentUser, services: ServicesDep, url: str = _URL, cookies_id: str | None = _COOKIES
) -> FormatsPublic:
    found = await extract(services, user, url, cookies_id=cookies_id)
    if not isinstance(found, MediaItem):
        raise InputError("the URL is a playlist or channel; use /playlist/preview")
    return FormatsPublic(
        url=found.url,
        platform=found.platform,
        id=found.id,
        title=found.title,
        formats=[format_public(f) for f in found.formats],
    )


@router.get(
    "/metadata",
    response_model=ItemPublic | CollectionPublic,
    summary="Metadata of a media item, or the listing of a playlist/channel",
)
async def metadata(
    user: CurrentUser, services: ServicesDep, url: str = _URL, cookies_id: str | None = _COOKIES
) -> ItemPublic | CollectionPublic:
    found = await extract(services, user, url, cookies_id=cookies_id)
    if isinstance(found, MediaItem):
        return item_public(found)
    return collection_public(found, list(found.entries))
