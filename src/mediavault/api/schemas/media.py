"""The archive as the API shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mediavault.jobs.tables import MediaFile

__all__ = ["MediaPage", "MediaPublic", "media_public"]


class MediaPublic(BaseModel):
    id: str
    platform: str
    item_id: str
    title: str | None
    uploader: str | None
    upload_date: str | None
    duration: float | None
    size: int
    sha256: str
    path: str = Field(description="key inside the storage backend")
    job_id: str | None
    created_at: datetime
    file_url: str


class MediaPage(BaseModel):
    items: list[MediaPublic]
    next_cursor: str | None


def media_public(row: MediaFile, *, prefix: str = "/api/v1") -> MediaPublic:
    return MediaPublic(
        id=row.id,
        platform=row.platform,
        item_id=row.item_id,
        title=row.title,
        uploader=row.uploader,
        upload_date=row.upload_date,
        duration=row.duration,
        size=row.size,
        sha256=row.sha256,
        path=row.path,
        job_id=row.job_id,
        created_at=row.created_at,
        file_url=f"{prefix}/media/{row.id}/file",
    )
