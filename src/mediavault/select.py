"""Format selection: which of an item's formats to download.

``select_formats(item, spec, audio_only=...)`` returns one format, or ``[video, audio]``
to merge. Specs:

- ``best`` (default) / ``worst``
- ``1080p``, ``720p``, ... : the best format at most that tall (the smallest one above
  it when nothing is that small)
- ``audio``: the best audio (a combined format when there is no audio-only one)
- any yt-dlp format string (``bv*[height<=480]+ba/b``, ``18``, ``best[ext=mp4]``...),
  evaluated by yt-dlp's own selector over our formats, ordered by yt-dlp's sorter.

DRM-protected formats are never candidates; an item whose formats are all protected
raises ``DRMProtectedError``. An item a platform adapter yielded without formats and with
``extra["unavailable"] = {"code": ..., "message": ...}`` (paid/locked content:
``content_locked``; a media the adapter could not read: ``extraction_failed``) raises
the error of that code, so it is reported skipped or failed with its reason.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from mediavault.errors import (
    DRMProtectedError,
    ExtractionError,
    FormatNotAvailableError,
    InputError,
    MediavaultError,
    error_for_code,
)
from mediavault.models import Format, MediaItem, Protocol

__all__ = ["is_audio_spec", "resolve_spec", "select_formats", "ytdlp_format_dict"]

_HEIGHT = re.compile(r"^(\d{3,4})p$", re.IGNORECASE)

_ALIASES = {
    "best": "bv*+ba/b",
    "worst": "wv*+wa/w",
    "audio": "ba/b",
    "bestaudio": "ba/b",
}

_YTDLP_PROTOCOL = {
    Protocol.HLS: "m3u8_native",
    Protocol.DASH: "http_dash_segments",
    Protocol.YTDLP: "ytdlp",
}

_lock = threading.Lock()
_ydl: Any = None


def is_audio_spec(spec: str) -> bool:
    return spec.strip().lower() in ("audio", "bestaudio")


def resolve_spec(spec: str, *, audio_only: bool = False) -> str:
    """Our shorthand as a yt-dlp format string."""
    text = spec.strip()
    lowered = text.lower()
    if not text:
        raise InputError("empty format specification")
    if audio_only and lowered in ("best", "audio", "bestaudio"):
        return "ba/b"
    if audio_only and lowered == "worst":
        return "wa/w"
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    match = _HEIGHT.match(text)
    if match:
        h = int(match.group(1))
        return f"bv*[height<={h}]+ba/b[height<={h}]/wv*+ba/w"
    return text


def _is_shorthand(spec: str) -> bool:
    text = spec.strip()
    return text.lower() in _ALIASES or _HEIGHT.match(text) is not None


def ytdlp_format_dict(fmt: Format) -> dict[str, Any]:
    """The fields of ``fmt`` yt-dlp's sorter and selector look at."""
    protocol = _YTDLP_PROTOCOL.get(fmt.protocol)
    if protocol is None:
        protocol = "https" if fmt.url.startswith("https:") else "http"
    out: dict[str, Any] = {
        "format_id": fmt.format_id,
        "url": fmt.url,
        "ext": fmt.ext,
        "protocol": protocol,
        "width": fmt.width,
        "height": fmt.height,
        "fps": fmt.fps,
        "vcodec": fmt.vcodec,
        "acodec": fmt.acodec,
        "abr": fmt.abr,
        "tbr": fmt.tbr,
        "filesize": fmt.filesize,
        "filesize_approx": fmt.filesize_approx,
        "language": fmt.language,
        "format_note": fmt.note,
    }
    return {key: value for key, value in out.items() if value is not None}


def _selector_host() -> Any:
    """One quiet, offline YoutubeDL used only to build selectors and sort formats."""
    global _ydl
    with _lock:
        if _ydl is None:
            from yt_dlp import YoutubeDL

            _ydl = YoutubeDL({"quiet": True, "no_warnings": True, "noprogress": True})
        return _ydl


def _chosen_ids(selected: dict[str, Any]) -> list[str]:
    parts = selected.get("requested_formats")
    if parts:
        return [str(part["format_id"]) for part in parts]
    return [str(selected["format_id"])]


def _unavailable_error(item: MediaItem, unavailable: dict[str, Any]) -> MediavaultError:
    code = str(unavailable.get("code") or "extraction_failed")
    error = error_for_code(code)
    if error is MediavaultError:
        error = ExtractionError
    message = str(unavailable.get("message") or f"{item.title!r} is not available")
    return error(message, detail={"platform": item.platform, "id": item.id})


def select_formats(
    item: MediaItem, spec: str = "best", *, audio_only: bool = False
) -> list[Format]:
    """The format(s) to fetch for ``item``: one, or ``[video, audio]`` to merge."""
    unavailable = item.extra.get("unavailable")
    if not item.formats and isinstance(unavailable, dict):
        raise _unavailable_error(item, unavailable)
    usable = [fmt for fmt in item.formats if not fmt.drm]
    if item.drm or (item.formats and not usable):
        raise DRMProtectedError(f"{item.title!r} is DRM-protected; it is not downloaded")
    if not usable:
        raise FormatNotAvailableError(f"{item.title!r} has no downloadable formats")
    if len(usable) == 1 and _is_shorthand(spec):
        return usable  # the only candidate, whatever the shorthand asks: no yt-dlp needed
    yt_spec = resolve_spec(spec, audio_only=audio_only)
    ydl = _selector_host()
    try:
        selector = ydl.build_format_selector(yt_spec)
    except (SyntaxError, ValueError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "invalid syntax"
        raise InputError(f"invalid format specification {spec!r}: {first_line}") from exc
    dicts = [ytdlp_format_dict(fmt) for fmt in usable]
    with _lock:
        ydl.sort_formats({"formats": dicts})
    ctx = {
        "formats": dicts,
        "has_merged_format": any("none" not in (f.get("acodec"), f.get("vcodec")) for f in dicts),
        "incomplete_formats": all(f.get("vcodec") == "none" for f in dicts)
        or all(f.get("acodec") == "none" for f in dicts),
    }
    try:
        chosen = next(iter(selector(ctx)), None)
    except Exception as exc:  # yt-dlp raises plain errors from filter expressions
        raise InputError(f"invalid format specification {spec!r}: {exc}") from exc
    if chosen is None:
        available = ", ".join(fmt.format_id for fmt in usable)
        raise FormatNotAvailableError(
            f"no format matches {spec!r} (available: {available})", detail={"spec": spec}
        )
    by_id = {fmt.format_id: fmt for fmt in usable}
    return [by_id[format_id] for format_id in _chosen_ids(chosen)]
