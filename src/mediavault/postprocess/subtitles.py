"""Subtitles: convert between srt, vtt and ass; embed into the media container."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from mediavault.config import Settings
from mediavault.errors import PostProcessError
from mediavault.postprocess.ffmpeg import probe, run_ffmpeg
from mediavault.postprocess.merge import MP4_FAMILY

__all__ = [
    "SUBTITLE_FORMATS",
    "can_embed_subtitles",
    "convert_subtitle",
    "embed_subtitles",
    "language_tag",
]

SUBTITLE_FORMATS = frozenset({"srt", "vtt", "ass"})
_MUXER = {"srt": "srt", "vtt": "webvtt", "ass": "ass"}

# ISO 639-1 -> 639-2/B: containers (mp4 above all) only keep three-letter language tags
_ISO639_2 = {
    "ar": "ara", "cs": "cze", "da": "dan", "de": "ger", "el": "gre", "en": "eng", "es": "spa",
    "fa": "per", "fi": "fin", "fr": "fre", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "ko": "kor", "nl": "dut", "no": "nor", "pl": "pol", "pt": "por",
    "ro": "rum", "ru": "rus", "sv": "swe", "th": "tha", "tr": "tur", "uk": "ukr", "vi": "vie",
    "zh": "chi",
}  # fmt: skip


def language_tag(lang: str) -> str:
    """A container language tag for ``lang`` (``en``, ``en-US`` -> ``eng``)."""
    base = lang.replace("_", "-").split("-", 1)[0].lower()
    return _ISO639_2.get(base, base)


def _embed_codec(container: str) -> str | None:
    container = container.lower()
    if container in MP4_FAMILY:
        return "mov_text"
    if container in ("mkv", "mka"):
        return "copy"
    if container == "webm":
        return "webvtt"
    return None


def can_embed_subtitles(container: str) -> bool:
    return _embed_codec(container) is not None


async def convert_subtitle(
    source: Path, fmt: str, *, settings: Settings, cancel: asyncio.Event | None = None
) -> Path:
    """``source`` as a ``fmt`` (srt/vtt/ass) file beside it; the source itself if it is one."""
    fmt = fmt.lower()
    if fmt not in SUBTITLE_FORMATS:
        raise PostProcessError(f"unsupported subtitle format {fmt!r}")
    if source.suffix.lower().lstrip(".") == fmt:
        return source
    output = source.with_suffix(f".{fmt}")
    codec = {"srt": "srt", "vtt": "webvtt", "ass": "ass"}[fmt]
    args = ["-i", str(source), "-map", "0:s:0", "-c:s", codec, "-f", _MUXER[fmt]]
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what=f"subtitles to {fmt}"
    )


async def embed_subtitles(
    media: Path,
    tracks: Sequence[tuple[Path, str]],
    output: Path,
    *,
    settings: Settings,
    cancel: asyncio.Event | None = None,
) -> Path:
    """``media`` with each ``(subtitle file, language)`` added as a subtitle stream."""
    container = output.suffix.lstrip(".")
    codec = _embed_codec(container)
    if codec is None:
        raise PostProcessError(f"cannot embed subtitles into .{container} files")
    args = ["-i", str(media)]
    for path, _lang in tracks:
        args += ["-i", str(path)]
    args += ["-map", "0"]
    for n in range(1, len(tracks) + 1):
        args += ["-map", str(n)]
    args += ["-c", "copy", "-c:s", codec, "-map_metadata", "0"]
    # the new subtitle streams come after the ones the media already has
    existing = len((await probe(media, settings=settings, cancel=cancel)).of_type("subtitle"))
    for n, (_path, lang) in enumerate(tracks, start=existing):
        args += [f"-metadata:s:s:{n}", f"language={language_tag(lang)}"]
    if container.lower() in MP4_FAMILY:
        args += ["-movflags", "+faststart"]
    return await run_ffmpeg(
        args, output, settings=settings, cancel=cancel, what="subtitle embedding"
    )
