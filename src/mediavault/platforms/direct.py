"""Direct media files: a URL whose path ends in a media extension and whose server
answers with an ``audio/*`` or ``video/*`` type.

One HEAD request decides; anything else (an HTML page, a manifest, a HEAD refused) goes
to the generic yt-dlp adapter, so nothing yt-dlp handles stops working. The item is the
one yt-dlp's generic extractor would make (platform ``generic``, id = the file name's
stem, date from Last-Modified), so archives and dedupe keys agree whichever path served,
but without importing or running yt-dlp: a plain file starts transferring at once.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from mediavault.errors import HTTPStatusError, MediavaultError
from mediavault.models import Collection, Format, MediaItem, Protocol
from mediavault.platforms.base import Adapter, register

__all__ = ["DirectFileAdapter"]

_MEDIA_EXT = "mp4|m4v|mkv|webm|mov|avi|flv|wmv|mpg|mpeg|mp3|m4a|aac|ogg|oga|ogv|opus|flac|wav"
_CONTENT_TYPE = re.compile(r"^(?P<kind>audio|video)/(?P<subtype>[^;\s]+)", re.IGNORECASE)
_MANIFEST_TYPES = ("mpegurl", "dash+xml")


@register
class DirectFileAdapter(Adapter):
    name: ClassVar[str] = "direct"
    # URLs carrying yt-dlp's smuggled data (feed entries with their guid) stay with yt-dlp
    pattern: ClassVar[str] = (
        r"^(?!\S*#__youtubedl_smuggle)"
        rf"https?://[^\s/?#]+/(?:[^\s?#]*/)?[^\s/?#]+\.(?i:{_MEDIA_EXT})(?:[?#]\S*)?$"
    )
    example: ClassVar[str] = "https://cdn.example.com/media/clip.mp4"

    async def extract(self) -> MediaItem | Collection:
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
