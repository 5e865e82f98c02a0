"""The transfer engine: fetch what an adapter resolved, fast, resumably, in bounded memory.

``fetch(fmt, dest, ...)`` picks the engine by ``fmt.protocol``:

- ``http``  -> :mod:`.http`: segmented multi-connection download (single stream when
  the server has no ranges), resumable from ``dest.part`` + ``dest.part.json``.
- ``hls``   -> :mod:`.hls` + :mod:`.fragments`: media/master playlists, AES-128,
  byte ranges, init segments; fragments fetched concurrently, written in order.
- ``dash``  -> :mod:`.fragments` over ``fmt.fragments``.
- ``ytdlp`` -> :mod:`.ytdlp`: yt-dlp's own downloader, for everything else.

Fragment streams are remuxed to ``fmt.ext`` with ffmpeg (``-c copy``) at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mediavault.config import Settings
from mediavault.errors import CancelledError_, DRMProtectedError
from mediavault.models import Format, Progress, Protocol
from mediavault.net.session import HttpSession

from .progress import ProgressTracker
from .transport import Transport

__all__ = ["FetchResult", "fetch"]


@dataclass(frozen=True)
class FetchResult:
    """The finished local file. ``sha256`` is set when the engine computed it anyway
    (a single stream, or a checksum the source announced); otherwise None."""

    path: Path
    size: int
    sha256: str | None


async def fetch(
    fmt: Format,
    dest: Path,
    *,
    session: HttpSession,
    settings: Settings,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: asyncio.Event | None = None,
    connections: int | None = None,
    item_id: str = "",
    page_url: str | None = None,
) -> FetchResult:
    """Download ``fmt`` into ``dest`` (its parent must exist); resumes a previous attempt.

    Raises ``CancelledError_`` promptly when ``cancel`` is set (the partial state stays
    for the next run), ``DRMProtectedError`` for DRM formats, ``NetworkError`` subclasses
    when the transfer fails after retries, ``IntegrityError`` when bytes do not add up.
    """
    if fmt.drm:
        raise DRMProtectedError(f"format {fmt.format_id} is DRM-protected")
    if cancel is not None and cancel.is_set():
        raise CancelledError_("download cancelled")
    tracker = ProgressTracker(item_id, on_progress)
    host = urlsplit(fmt.url).hostname or ""
    count = connections or settings.connections_for(host)
    transport = Transport(session, headers=fmt.http_headers)
    if fmt.protocol is Protocol.HTTP:
        from .http import HttpDownload

        result = await HttpDownload(
            fmt,
            dest,
            transport=transport,
            settings=settings,
            tracker=tracker,
            connections=count,
            cancel=cancel,
        ).run()
    elif fmt.protocol in (Protocol.HLS, Protocol.DASH):
        from .fragments import FragmentDownload
        from .hls import resolve_fragments

        plan = await resolve_fragments(fmt, transport, settings)
        result = await FragmentDownload(
            fmt,
            dest,
            plan,
            transport=transport,
            settings=settings,
            tracker=tracker,
            connections=count,
            cancel=cancel,
        ).run()
    else:
        from .ytdlp import ytdlp_download

        result = await ytdlp_download(
            fmt,
            dest,
            session=session,
            settings=settings,
            tracker=tracker,
            cancel=cancel,
            page_url=page_url,
        )
    tracker.finish()
    return result
