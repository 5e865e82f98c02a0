"""The generic adapter: yt-dlp's 1,800+ extractors behind our typed models.

yt-dlp runs in a worker thread with our session as its only request handler (see
``_ytdlp_net``), so the host policy guards every request it makes. Items carry
``platform`` = the yt-dlp extractor key in lower case (``generic``, ``youtube``...).
Collections (playlists, channels, RSS/Atom feeds) are extracted flat and paged lazily.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from mediavault.errors import MediavaultError
from mediavault.models import Collection, CollectionEntry, MediaItem
from mediavault.platforms._ytdlp_map import (
    is_playlist,
    to_collection,
    to_entry,
    to_item,
)
from mediavault.platforms.base import Adapter, Cursor, register

__all__ = ["YtdlpAdapter"]


@register
class YtdlpAdapter(Adapter):
    """Anything yt-dlp understands: sites, direct files, HLS/DASH manifests, og:video pages,
    RSS/Atom feeds."""

    name: ClassVar[str] = "ytdlp"
    pattern: ClassVar[str] = r"^https?://[^\s/?#]+(?:[/?#]\S*)?$"
    example: ClassVar[str] = "https://example.com/videos/clip"
    page_size: ClassVar[int] = 100
    generic: ClassVar[bool] = True  # the registry always tries it last

    async def _info(self, url: str, **params: Any) -> dict[str, Any]:
        """yt-dlp's processed info dict for ``url`` (collections flat)."""
        # imported here: yt-dlp takes ~0.5 s to import, and direct files never need it
        from mediavault.platforms._ytdlp_net import (
            SessionBridge,
            guarded_ytdl,
            translate_ytdlp_error,
        )

        bridge = SessionBridge(self.ctx.session, asyncio.get_running_loop())

        def work() -> dict[str, Any]:
            with guarded_ytdl(bridge, extract_flat="in_playlist", **params) as ydl:
                info = ydl.extract_info(url, download=False)
                return dict(ydl.sanitize_info(info))

        try:
            return await asyncio.to_thread(work)
        except MediavaultError:
            raise
        except Exception as exc:  # everything yt-dlp raises is translated in one place
            raise translate_ytdlp_error(exc, url) from exc

    async def extract(self) -> MediaItem | Collection:
        info = await self._info(self.url)
        if not is_playlist(info):
            return to_item(info, self.url)
        entries = tuple(
            to_entry(raw, index)
            for index, raw in enumerate(_raw_entries(info), start=1)
            if raw.get("url") or raw.get("webpage_url")
        )
        return to_collection(info, self.url, entries)

    async def iter_entries(
        self, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        """Entries in the collection's order, one page of ``page_size`` extracted at a time."""
        offset = int((cursor or {}).get("offset", 0))
        while True:
            spec = f"{offset + 1}-{offset + self.page_size}"
            info = await self._info(self.url, playlist_items=spec)
            if not is_playlist(info):
                if offset == 0:
                    yield to_item(info, self.url), None
                return
            page = _raw_entries(info)
            for index, raw in enumerate(page, start=offset + 1):
                yield _entry_or_item(raw, index, self.url), {"offset": index}
            if len(page) < self.page_size:
                return
            offset += len(page)


def _raw_entries(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = info.get("entries") or []
    return [entry for entry in entries if isinstance(entry, Mapping)]


def _entry_or_item(raw: Mapping[str, Any], index: int, url: str) -> MediaItem | CollectionEntry:
    """Resolved entries (a page with several videos) are items; references stay entries."""
    if raw.get("formats") and raw.get("_type", "video") == "video":
        return to_item(raw, url).model_copy(update={"playlist_index": index})
    return to_entry(raw, index)
