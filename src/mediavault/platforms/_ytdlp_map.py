"""yt-dlp info dicts -> our frozen models (tolerant of missing optional metadata).

Protocol mapping: ``http``/``https`` -> ``Protocol.HTTP``; ``m3u8``/``m3u8_native`` ->
``Protocol.HLS`` (``url`` is the media playlist); ``http_dash_segments`` ->
``Protocol.DASH`` with absolute ``fragments``; anything else -> ``Protocol.YTDLP``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from mediavault.errors import NoMediaError
from mediavault.models import (
    Collection,
    CollectionEntry,
    Format,
    Fragment,
    MediaItem,
    Protocol,
    Subtitle,
    Thumbnail,
)

__all__ = ["is_playlist", "to_collection", "to_entry", "to_format", "to_item"]

_PROTOCOLS = {
    "http": Protocol.HTTP,
    "https": Protocol.HTTP,
    "m3u8": Protocol.HLS,
    "m3u8_native": Protocol.HLS,
    "http_dash_segments": Protocol.DASH,
}


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _fragments(raw: Mapping[str, Any]) -> tuple[Fragment, ...] | None:
    frags = raw.get("fragments")
    if not isinstance(frags, list | tuple):
        return None
    base = raw.get("fragment_base_url") or raw.get("url") or ""
    out = []
    for frag in frags:
        if not isinstance(frag, Mapping):
            continue
        url = frag.get("url") or (urljoin(base, frag["path"]) if frag.get("path") else None)
        if url:
            out.append(Fragment(url=str(url), duration=_float(frag.get("duration"))))
    return tuple(out)


def _protocol(raw: Mapping[str, Any]) -> Protocol:
    name = str(raw.get("protocol") or "")
    if not name:
        url = str(raw.get("url") or "")
        name = url.split(":", 1)[0].lower() if url else ""
    protocol = _PROTOCOLS.get(name, Protocol.YTDLP)
    if protocol is Protocol.DASH and not raw.get("fragments"):
        return Protocol.YTDLP
    return protocol


def _ext(raw: Mapping[str, Any], protocol: Protocol) -> str:
    ext = _str(raw.get("ext"))
    if protocol is Protocol.HLS and ext in (None, "m3u8"):
        return "mp4"
    return ext or "mp4"


def to_format(raw: Mapping[str, Any]) -> Format:
    protocol = _protocol(raw)
    url = str(raw.get("url") or raw.get("manifest_url") or "")
    return Format(
        format_id=str(raw.get("format_id") or "0"),
        url=url,
        protocol=protocol,
        ext=_ext(raw, protocol),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        fps=_float(raw.get("fps")),
        vcodec=_str(raw.get("vcodec")),
        acodec=_str(raw.get("acodec")),
        abr=_float(raw.get("abr")),
        tbr=_float(raw.get("tbr")),
        filesize=_int(raw.get("filesize")),
        filesize_approx=_int(raw.get("filesize_approx")),
        language=_str(raw.get("language")),
        note=_str(raw.get("format_note")),
        drm=bool(raw.get("has_drm")) and raw.get("has_drm") != "maybe",
        http_headers=_headers(raw.get("http_headers")),
        fragments=_fragments(raw) if protocol is Protocol.DASH else None,
        manifest_url=_str(raw.get("manifest_url")),
    )


def _subtitles(info: Mapping[str, Any]) -> tuple[Subtitle, ...]:
    out: list[Subtitle] = []
    for key, automatic in (("subtitles", False), ("automatic_captions", True)):
        tracks = info.get(key)
        if not isinstance(tracks, Mapping):
            continue
        for lang, entries in tracks.items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, Mapping) and entry.get("url"):
                    out.append(
                        Subtitle(
                            lang=str(lang),
                            url=str(entry["url"]),
                            ext=str(entry.get("ext") or "vtt"),
                            name=_str(entry.get("name")),
                            automatic=automatic,
                        )
                    )
    return tuple(out)


def _thumbnails(info: Mapping[str, Any]) -> tuple[Thumbnail, ...]:
    raw = info.get("thumbnails")
    entries: list[Any] = list(raw) if isinstance(raw, list) else []
    if not entries and info.get("thumbnail"):
        entries = [{"url": info["thumbnail"]}]
    return tuple(
        Thumbnail(
            url=str(t["url"]),
            id=_str(t.get("id")),
            width=_int(t.get("width")),
            height=_int(t.get("height")),
        )
        for t in entries
        if isinstance(t, Mapping) and t.get("url")
    )


def _raw_formats(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    formats = info.get("formats")
    if isinstance(formats, list) and formats:
        return [
            f for f in formats if isinstance(f, Mapping) and (f.get("url") or f.get("fragments"))
        ]
    if info.get("url"):
        return [info]
    return []


def _kind(formats: tuple[Format, ...]) -> str:
    if formats and all(f.is_audio_only for f in formats):
        return "audio"
    return "video"


def platform_of(info: Mapping[str, Any]) -> str:
    key = info.get("extractor_key") or info.get("ie_key") or info.get("extractor") or "generic"
    return str(key).lower()


def to_item(info: Mapping[str, Any], url: str) -> MediaItem:
    """A ``MediaItem`` from a processed yt-dlp video info dict."""
    formats = tuple(to_format(raw) for raw in _raw_formats(info))
    if not formats:
        raise NoMediaError(f"no downloadable media at {url}", detail={"url": url})
    item_id = _str(info.get("id")) or _str(info.get("display_id"))
    if item_id is None:
        raise NoMediaError(f"yt-dlp found media at {url} but no id for it", detail={"url": url})
    tags = info.get("tags")
    return MediaItem(
        platform=platform_of(info),
        id=item_id,
        title=_str(info.get("title")) or item_id,
        url=_str(info.get("webpage_url")) or url,
        formats=formats,
        uploader=_str(info.get("uploader") or info.get("channel")),
        uploader_id=_str(info.get("uploader_id") or info.get("channel_id")),
        upload_date=_str(info.get("upload_date")),
        timestamp=_float(info.get("timestamp")),
        duration=_float(info.get("duration")),
        description=_str(info.get("description")),
        view_count=_int(info.get("view_count")),
        like_count=_int(info.get("like_count")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        subtitles=_subtitles(info),
        thumbnails=_thumbnails(info),
        playlist=_str(info.get("playlist_title") or info.get("playlist")),
        playlist_index=_int(info.get("playlist_index")),
        kind=_kind(formats),
        drm=all(f.drm for f in formats),
        http_headers=_headers(info.get("http_headers")),
    )


def is_playlist(info: Mapping[str, Any]) -> bool:
    return info.get("_type") in ("playlist", "multi_video") or "entries" in info


def to_entry(raw: Mapping[str, Any], index: int | None) -> CollectionEntry:
    url = str(raw.get("url") or raw.get("webpage_url") or "")
    from yt_dlp.utils import unsmuggle_url  # yt-dlp loads only when it is used

    _, smuggled = unsmuggle_url(url, {})
    entry_id = _str(smuggled.get("force_videoid")) or _str(raw.get("id"))
    return CollectionEntry(
        url=url,
        id=entry_id,
        title=_str(raw.get("title")),
        index=_int(raw.get("playlist_index")) or index,
        timestamp=_float(raw.get("timestamp")),
        duration=_float(raw.get("duration")),
        view_count=_int(raw.get("view_count")),
        upload_date=_str(raw.get("upload_date")),
    )


def _collection_kind(info: Mapping[str, Any]) -> str:
    if platform_of(info) == "generic":
        return "feed"
    ident = str(info.get("id") or "")
    if ident and ident in (info.get("channel_id"), info.get("uploader_id")):
        return "channel"
    return "playlist"


def to_collection(
    info: Mapping[str, Any], url: str, entries: tuple[CollectionEntry, ...]
) -> Collection:
    ident = _str(info.get("id")) or url
    count = _int(info.get("playlist_count"))
    return Collection(
        platform=platform_of(info),
        id=ident,
        title=_str(info.get("title")) or ident,
        url=_str(info.get("webpage_url")) or url,
        kind=_collection_kind(info),
        uploader=_str(info.get("uploader") or info.get("channel")),
        entries=entries,
        entry_count=count if count is not None else len(entries),
    )
