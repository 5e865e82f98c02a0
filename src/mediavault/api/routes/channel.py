"""``/channel``: a channel's listing (filtered by date, duration, views) and download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.errors import UPSTREAM_RESPONSES
from mediavault.api.extract import extract, filter_entries
from mediavault.api.jobs import submit_job
from mediavault.api.schemas.extract import CollectionPublic, collection_public
from mediavault.api.schemas.jobs import ChannelCreate, ChannelFilters, JobPublic, job_public
from mediavault.api.urls import MAX_URL_LENGTH
from mediavault.errors import InputError
from mediavault.models import JobKind, MediaItem

router = APIRouter(prefix="/channel", tags=["channel"])


@router.get(
    "/info",
    response_model=CollectionPublic,
    summary="A channel's entries, filtered",
    responses=UPSTREAM_RESPONSES,
)
async def info(
    user: CurrentUser,
    services: ServicesDep,
    filters: Annotated[ChannelFilters, Query()],
    url: str = Query(min_length=8, max_length=MAX_URL_LENGTH),
    cookies_id: str | None = Query(None, max_length=32),
) -> CollectionPublic:
    found = await extract(services, user, url, cookies_id=cookies_id)
    if isinstance(found, MediaItem):
        raise InputError("the URL is a single item, not a channel; use /metadata")
    return collection_public(found, filter_entries(list(found.entries), filters))


@router.post(
    "/download",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a channel download (filters applied to its entries)",
)
async def download(body: ChannelCreate, user: CurrentUser, services: ServicesDep) -> JobPublic:
    filters = body.filters.model_dump(exclude_none=True)
    job = await submit_job(
        services,
        user,
        JobKind.CHANNEL,
        body,
        url=body.url,
        playlist_items=body.playlist_items,
        payload={"filters": filters} if filters else None,
    )
    return job_public(job)
