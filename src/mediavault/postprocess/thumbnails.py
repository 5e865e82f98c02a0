"""Thumbnails: normalise to JPEG, embed as cover art (mp4/m4a, mkv, mp3, flac)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediavault.config import Settings
from mediavault.errors import PostProcessError
from mediavault.postprocess.ffmpeg import probe, run_ffmpeg
from mediavault.postprocess.merge import MP4_FAMILY

__all__ = ["can_embed_thumbnail", "embed_thumbnail", "to_jpeg"]

_EMBEDDABLE = MP4_FAMILY | {"mkv", "mka", "mp3", "flac"}


def can_embed_thumbnail(container: str) -> bool:
    return container.lower() in _EMBEDDABLE


async def to_jpeg(source: Path, *, settings: Settings, cancel: asyncio.Event | None = None) -> Path:
    """``source`` as a JPEG beside it (the source itself when it already is one)."""
    if source.suffix.lower() in (".jpg", ".jpeg"):
        return source
    output = source.with_suffix(".jpg")
    args = ["-i", str(source), "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg"]
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what="thumbnail to jpeg"
    )


async def embed_thumbnail(
    media: Path,
    thumbnail: Path,
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """``media`` with ``thumbnail`` (a JPEG) as its cover picture."""
    container = output.suffix.lstrip(".").lower()
    if not can_embed_thumbnail(container):
        raise PostProcessError(f"cannot embed a thumbnail into .{container} files")
    if container in ("mkv", "mka"):
        args = [
            "-i", str(media), "-map", "0", "-c", "copy",
            "-attach", str(thumbnail),
            "-metadata:s:t", "mimetype=image/jpeg", "-metadata:s:t", "filename=cover.jpg",
        ]  # fmt: skip
    elif container == "mp3":
        args = [
            "-i", str(media), "-i", str(thumbnail), "-map", "0:a", "-map", "1",
            "-c", "copy", "-id3v2_version", "3",
            "-metadata:s:v", "title=Album cover", "-metadata:s:v", "comment=Cover (front)",
        ]  # fmt: skip
    else:
        info = await probe(media, settings=settings, cancel=cancel)
        new_video = len([s for s in info.streams if s.codec_type == "video"])
        maps = ["-map", "0:a"] if container == "flac" else ["-map", "0"]
        args = [
            "-i", str(media), "-i", str(thumbnail), *maps, "-map", "1",
            "-c", "copy", f"-disposition:v:{new_video}", "attached_pic",
        ]  # fmt: skip
        if container == "flac":
            args[-2] = "-disposition:v:0"
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what="thumbnail embedding"
    )
