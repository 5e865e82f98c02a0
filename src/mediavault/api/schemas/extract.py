"""What extraction returns: formats, item metadata, playlist/channel listings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from mediavault.models import Collection, CollectionEntry, Format, MediaItem

__all__ = [
    "CollectionPublic",
    "EntryPublic",
    "FormatPublic",
    "FormatsPublic",
    "ItemPublic",
    "collection_public",
    "format_public",
    "item_public",
]


class FormatPublic(BaseModel):
    format_id: str
    ext: str
    protocol: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    vcodec: str | None = None
    acodec: str | None = None
    abr: float | None = None
    tbr: float | None = None
    filesize: int | None = None
    filesize_approx: int | None = None
    language: str | None = None
    note: str | None = None
    drm: bool = False


class FormatsPublic(BaseModel):
    url: str
    platform: str
    id: str
    title: str
    formats: list[FormatPublic]


class ItemPublic(BaseModel):
    type: Literal["item"] = "item"
    platform: str
    id: str
    title: str
    url: str
    kind: str
    uploader: str | None = None
    uploader_id: str | None = None
    upload_date: str | None = None
    timestamp: float | None = None
    duration: float | None = None
    description: str | None = None
    view_count: int | None = None
    like_count: int | None = None
    tags: list[str] = []
    subtitles: list[str] = []
    thumbnails: list[str] = []
    drm: bool = False
    formats: list[FormatPublic] = []


class EntryPublic(BaseModel):
    url: str
    id: str | None = None
    title: str | None = None
    index: int | None = None
    timestamp: float | None = None
    duration: float | None = None
    view_count: int | None = None
    upload_date: str | None = None


class CollectionPublic(BaseModel):
    type: Literal["collection"] = "collection"
    platform: str
    id: str
    title: str
    url: str
    kind: str
    uploader: str | None = None
    entry_count: int | None = None
    entries: list[EntryPublic]


def format_public(fmt: Format) -> FormatPublic:
    return FormatPublic.model_validate(fmt.model_dump(include=set(FormatPublic.model_fields)))


def item_public(item: MediaItem) -> ItemPublic:
    data = item.model_dump(
        include=set(ItemPublic.model_fields)
        - {"type", "formats", "subtitles", "thumbnails", "tags"}
    )
    return ItemPublic(
        **data,
        tags=list(item.tags),
        subtitles=sorted({s.lang for s in item.subtitles}),
        thumbnails=[t.url for t in item.thumbnails],
        formats=[format_public(f) for f in item.formats],
    )


def collection_public(collection: Collection, entries: list[CollectionEntry]) -> CollectionPublic:
    return CollectionPublic(
        platform=collection.platform,
        id=collection.id,
        title=collection.title,
        url=collection.url,
        kind=collection.kind,
        uploader=collection.uploader,
        entry_count=collection.entry_count
        if collection.entry_count is not None
        else len(collection.entries),
        entries=[EntryPublic.model_validate(e.model_dump()) for e in entries],
    )
