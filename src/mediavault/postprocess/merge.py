"""Merge separate video and audio, and remux into another container (stream copy)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediavault.config import Settings
from mediavault.postprocess.ffmpeg import run_ffmpeg

__all__ = ["MP4_FAMILY", "container_args", "merge", "merge_container", "remux"]

MP4_FAMILY = frozenset({"mp4", "m4a", "m4v", "mov"})
_WEBM_FAMILY = frozenset({"webm", "weba"})


def merge_container(video_ext: str, audio_ext: str, requested: str | None = None) -> str:
    """The container for a merge: the one asked for, else one both streams fit."""
    if requested:
        return requested.lower().lstrip(".")
    video_ext, audio_ext = video_ext.lower(), audio_ext.lower()
    if video_ext in MP4_FAMILY and audio_ext in MP4_FAMILY | {"aac"}:
        return "mp4"
    if video_ext in _WEBM_FAMILY and audio_ext in _WEBM_FAMILY | {"opus"}:
        return "webm"
    return "mkv"


def container_args(ext: str) -> list[str]:
    """Muxer options that make the container play well (subtitle codec, faststart)."""
    ext = ext.lower()
    if ext in MP4_FAMILY:
        return ["-c:s", "mov_text", "-movflags", "+faststart"]
    if ext == "webm":
        return ["-c:s", "webvtt"]
    return []


async def merge(
    video: Path,
    audio: Path,
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """``output`` = the first video stream of ``video`` + the first audio of ``audio``."""
    ext = output.suffix.lstrip(".")
    args = [
        "-i", str(video), "-i", str(audio),
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", *container_args(ext),
    ]  # fmt: skip
    return await run_ffmpeg(args, output, settings=settings, cancel=cancel, what="merge")


async def remux(
    source: Path,
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """Every stream of ``source`` copied into ``output``'s container."""
    ext = output.suffix.lstrip(".")
    args = ["-i", str(source), "-map", "0", "-c", "copy", *container_args(ext)]
    return await run_ffmpeg(args, output, settings=settings, cancel=cancel, what=f"remux to {ext}")
