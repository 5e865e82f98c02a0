"""Metadata embedding: title, artist, date, description and source URL as container tags."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediavault.config import Settings
from mediavault.models import MediaItem
from mediavault.postprocess.ffmpeg import run_ffmpeg
from mediavault.postprocess.merge import MP4_FAMILY

__all__ = ["embed_metadata", "has_own_metadata", "metadata_for", "supports_metadata"]

_NO_TAGS = frozenset({"aac", "ts"})


def supports_metadata(container: str) -> bool:
    return container.lower() not in _NO_TAGS


def has_own_metadata(item: MediaItem) -> bool:
    """Whether ``item`` carries metadata beyond its own file name.

    A bare file or manifest found by the generic extractor is titled after its name and
    has no uploader or description: rewriting it would only change its bytes, so it is
    stored exactly as the server sent it (and dedupes against other copies of it).
    """
    return item.platform != "generic" or any(
        (item.uploader, item.description, item.title != item.id)
    )


def metadata_for(item: MediaItem) -> dict[str, str]:
    """Container tags for ``item`` (empty values left out)."""
    date = item.upload_date
    tags = {
        "title": item.title,
        "artist": item.uploader or "",
        "date": f"{date[:4]}-{date[4:6]}-{date[6:]}" if date and len(date) == 8 else "",
        "description": (item.description or "")[:4000],
        "comment": item.url,
        "purl": item.url,
    }
    return {key: value for key, value in tags.items() if value}


async def embed_metadata(
    media: Path,
    tags: dict[str, str],
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """``media`` with ``tags`` written into its container (streams copied)."""
    args = ["-i", str(media), "-map", "0", "-c", "copy", "-map_metadata", "0"]
    for key, value in tags.items():
        args += ["-metadata", f"{key}={value.replace(chr(0), '')}"]
    if output.suffix.lstrip(".").lower() in MP4_FAMILY:
        args += ["-movflags", "+faststart"]
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what="metadata embedding"
    )
