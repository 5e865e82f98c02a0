"""Direct media files and HLS playlists: a URL whose path ends in a media extension and
whose server answers with an ``audio/*`` or ``video/*`` type, or one ending in ``.m3u8``
whose body is an HLS playlist.

One request decides (HEAD for a file, GET for a playlist, whose variants become formats
in :mod:`._hls_manifest`). A HEAD refused (a URL signed for GET only) is asked again as
a GET of the first byte; a file typed only as bytes (``application/octet-stream``, as
object stores serve uploads) is typed by its extension. Anything else (an HTML page, a
DASH manifest, a playlist the parser cannot read) goes to the generic yt-dlp adapter, so
nothing yt-dlp handles stops working. The item is the one yt-dlp's generic extractor would make
(platform ``generic``, id = the file name's stem, date from Last-Modified), so archives
and dedupe keys agree whichever path served, but without importing or running yt-dlp: a
plain file starts transferring at once.
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httpx

from mediavault.errors import ExtractionError, HTTPStatusError
from mediavault.models import Collection, Format, MediaItem, Protocol
from mediavault.platforms._hls_manifest import parse_hls
from mediavault.platforms.base import Adapter, register

__all__ = ["DirectFileAdapter"]

_MEDIA_EXT = "mp4|m4v|mkv|webm|mov|avi|flv|wmv|mpg|mpeg|mp3|m4a|aac|ogg|oga|ogv|opus|flac|wav"
_CONTENT_TYPE = re.compile(r"^(?P<kind>audio|video)/(?P<subtype>[^;\s]+)", re.IGNORECASE)
_MANIFEST_TYPES = ("mpegurl", "dash+xml")
_PLAYLIST = re.compile(r"\.m3u8$", re.IGNORECASE)
# types that say only "bytes": the URL's extension tells the media type
_BINARY_TYPES = (
    "", "application/octet-stream", "binary/octet-stream", "application/binary",
    "application/download", "application/x-download", "application/force-download",
)
_HEAD_REFUSED = (400, 403, 405, 501)  # a HEAD refused where a GET may be answered


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
            size = _int(response.headers.get("content-length"))
        except HTTPStatusError as exc:
            if exc.status_code in (404, 410):
                raise
            if exc.status_code not in _HEAD_REFUSED:
                return None
            # a URL signed for GET only (S3, R2, B2 presigned), or HEAD not allowed
            first = await self._first_byte()
            if first is None:
                return None
            response, size = first
        media = _media_type(response.headers.get("content-type", ""), str(response.url))
        if media is None:
            return None
        return _item(str(response.url), *media, response, size)

    async def _first_byte(self) -> tuple[httpx.Response, int | None] | None:
        """The answer to a GET of the first byte (its headers only), and the file size."""
        try:
            async with self.ctx.session.stream(
                "GET", self.url, headers={"Range": "bytes=0-0"}, follow_redirects=True
            ) as response:
                total = response.headers.get("content-range", "").rpartition("/")[2]
                if response.status_code == 200:  # the range was ignored: the whole file
                    total = response.headers.get("content-length", "")
                return response, _int(total)
        except HTTPStatusError as exc:
            if exc.status_code in (404, 410):
                raise
            return None

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


def _media_type(content_type: str, url: str) -> tuple[str, str] | None:
    """(kind, subtype) of a media file: from its Content-Type, or from the URL's
    extension when the server only says "bytes" (object stores' default type)."""
    match = _CONTENT_TYPE.match(content_type)
    if match is None and content_type.split(";")[0].strip().lower() in _BINARY_TYPES:
        match = _CONTENT_TYPE.match(mimetypes.guess_type(urlsplit(url).path)[0] or "")
    if match is None or any(t in match["subtype"].lower() for t in _MANIFEST_TYPES):
        return None
    return match["kind"].lower(), match["subtype"].lower()


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _item(url: str, kind: str, subtype: str, response: Any, size: int | None) -> MediaItem:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    stem, _, ext = name.rpartition(".")
    stem = stem or name
    timestamp, upload_date = _last_modified(response.headers.get("last-modified"))
    audio = kind == "audio"
    fmt = Format(
        format_id=subtype,
        url=url,
        protocol=Protocol.HTTP,
        ext=ext.lower() or subtype,
        vcodec="none" if audio else None,
        filesize=size,
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
