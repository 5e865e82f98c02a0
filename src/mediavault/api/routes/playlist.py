"""``/playlist``: preview a playlist's entries, download (a range of) them."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.errors import UPSTREAM_RESPONSES
from mediavault.api.extract import extract, select_items
from mediavault.api.jobs import submit_job
from mediavault.api.schemas.extract import CollectionPublic, collection_public
from mediavault.api.schemas.jobs import PLAYLIST_ITEMS, JobPublic, PlaylistCreate, job_public
from mediavault.api.urls import MAX_URL_LENGTH
from mediavault.errors import InputError
from mediavault.models import JobKind, MediaItem

router = APIRouter(prefix="/playlist", tags=["playlist"])


@router.get(
    "/preview",
    response_model=CollectionPublic,
    summary="Entries of a playlist (optionally a range)",
    responses=UPSTREAM_RESPONSES,
)
async def preview(
    user: CurrentUser,
    services: ServicesDep,
    url: str = Query(min_length=8, max_length=MAX_URL_LENGTH),
    playlist_items: str | None = Query(None, pattern=PLAYLIST_ITEMS, examples=["1-10,15"]),
    cookies_id: str | None = Query(None, max_length=32),
) -> CollectionPublic:
    found = await extract(services, user, url, cookies_id=cookies_id)
    if isinstance(found, MediaItem):
        raise InputError("the URL is a single item, not a playlist; use /metadata")
    return collection_public(found, select_items(list(found.entries), playlist_items))


@router.post(
    "/download",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a playlist download: one child job per entry",
)
async def download(body: PlaylistCreate, user: CurrentUser, services: ServicesDep) -> JobPublic:
    job = await submit_job(
        services, user, JobKind.PLAYLIST, body, url=body.url, playlist_items=body.playlist_items
    )
    return job_public(job)
