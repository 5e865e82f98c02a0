"""Direct media files and HLS playlists: a URL whose path ends in a media extension and
whose server answers with an ``audio/*`` or ``video/*`` type, or one ending in ``.m3u8``
whose body is an HLS playlist.

One request decides (HEAD for a file, GET for a playlist, whose variants become formats
in :mod:`._hls_manifest`); anything else (an HTML page, a DASH manifest, a HEAD refused,
a playlist the parser cannot read) goes to the generic yt-dlp adapter, so nothing yt-dlp
handles stops working. The item is the one yt-dlp's generic extractor would make
(platform ``generic``, id = the file name's stem, date from Last-Modified), so archives
and dedupe keys agree whichever path served, but without importing or running yt-dlp: a
plain file starts transferring at once.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from mediavault.errors import ExtractionError, HTTPStatusError, MediavaultError
from mediavault.models import Collection, Format, MediaItem, Protocol
from mediavault.platforms._hls_manifest import parse_hls
from mediavault.platforms.base import Adapter, register

__all__ = ["DirectFileAdapter"]

_MEDIA_EXT = "mp4|m4v|mkv|webm|mov|avi|flv|wmv|mpg|mpeg|mp3|m4a|aac|ogg|oga|ogv|opus|flac|wav"
_CONTENT_TYPE = re.compile(r"^(?P<kind>audio|video)/(?P<subtype>[^;\s]+)", re.IGNORECASE)
_MANIFEST_TYPES = ("mpegurl", "dash+xml")
_PLAYLIST = re.compile(r"\.m3u8$", re.IGNORECASE)


@register
class DirectFileAdapter(Adapter):
    name: ClassVar[str] = "direct"
    # URLs carrying yt-dlp's smuggled data (feed entries with their guid) stay with yt-dlp
    pattern: ClassVar[str] = (
        r"^(?!\S*#__youtubedl_smuggle)"
        rf"https?://[^\s/?#]+/(?:[^\s?#]*/)?[^\s/?#]+\.(?i:{_MEDIA_EXT}|m3u8)(?:[?#]\S*)?$"
    )
    example: ClassVar[str] = "https://cdn.example.com/media/clip.mp4"

    async def extract(self) -> MediaItem | Collection:
        if _PLAYLIST.search(urlsplit(self.url).path):
            item = await self._playlist()
        else:
            item = await self._probe()
        if item is not None:
            return item
        from mediavault.platforms.ytdlp import YtdlpAdapter

        return await YtdlpAdapter(self.url, self.ctx).extract()

    async def _probe(self) -> MediaItem | None:
        try:
            response = await self.ctx.session.request("HEAD", self.url, follow_redirects=True)
        except HTTPStatusError as exc:
            if exc.status_code in (404, 410):
                raise
            return None  # e.g. HEAD not allowed: let yt-dlp try its way
        except MediavaultError:
            raise
        match = _CONTENT_TYPE.match(response.headers.get("content-type", ""))
        if match is None or any(t in match["subtype"].lower() for t in _MANIFEST_TYPES):
            return None
        return _item(str(response.url), match["kind"].lower(), match["subtype"].lower(), response)


    async def _playlist(self) -> MediaItem | None:
        try:
            response = await self.ctx.session.request("GET", self.url, follow_redirects=True)
        except HTTPStatusError as exc:
            if exc.status_code in (404, 410):
                raise
            return None
        try:
            text = response.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
        if not text.lstrip().startswith("#EXTM3U"):
            return None
        url = str(response.url)
        try:
            manifest = parse_hls(text, url)
        except ExtractionError:
            return None  # a playlist we cannot read: yt-dlp may
        if not manifest.formats:
            return None
        stem = _stem(url)
        audio = all(f.vcodec == "none" for f in manifest.formats)
        return MediaItem(
            platform="generic",
            id=stem,
            title=stem,
            url=url,
            formats=manifest.formats,
            duration=manifest.duration,
            kind="audio" if audio else "video",
            drm=all(f.drm for f in manifest.formats),
            extra={"direct": True},
        )


def _stem(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    stem, _, _ = name.rpartition(".")
    return stem or name


def _item(url: str, kind: str, subtype: str, response: Any) -> MediaItem:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    stem, _, ext = name.rpartition(".")
    stem = stem or name
    length = response.headers.get("content-length")
    timestamp, upload_date = _last_modified(response.headers.get("last-modified"))
    audio = kind == "audio"
    fmt = Format(
        format_id=subtype,
        url=url,
        protocol=Protocol.HTTP,
        ext=ext.lower() or subtype,
        vcodec="none" if audio else None,
        filesize=int(length) if length and length.isdigit() else None,
    )
    return MediaItem(
        platform="generic",
        id=stem,
        title=stem,
        url=url,
        formats=(fmt,),
        timestamp=timestamp,
        upload_date=upload_date,
        kind="audio" if audio else "video",
        extra={"direct": True},
    )


def _last_modified(value: str | None) -> tuple[float | None, str | None]:
    if not value:
        return None, None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp(), when.astimezone(UTC).strftime("%Y%m%d")
