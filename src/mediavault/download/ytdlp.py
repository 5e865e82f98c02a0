"""Fallback for what our engines do not handle: yt-dlp's own downloader.

yt-dlp runs in a worker thread with the mediavault session as its only request handler
(``platforms._ytdlp_net``), so the host policy still guards every request. Its ``.part``
file gives it resume; cancellation is raised from its progress hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yt_dlp.utils import DownloadCancelled

from mediavault.config import Settings
from mediavault.errors import CancelledError_, IntegrityError, MediavaultError
from mediavault.models import Format
from mediavault.net.session import HttpSession
from mediavault.platforms._ytdlp_net import SessionBridge, guarded_ytdl, translate_ytdlp_error

from .progress import ProgressTracker

if TYPE_CHECKING:
    from . import FetchResult

__all__ = ["ytdlp_download"]

_CANCEL_POLL = 0.1


async def ytdlp_download(
    fmt: Format,
    dest: Path,
    *,
    session: HttpSession,
    settings: Settings,
    tracker: ProgressTracker,
    cancel: asyncio.Event | None,
    page_url: str | None,
) -> FetchResult:
    """Let yt-dlp fetch ``fmt`` (from ``page_url`` when known, else ``fmt.url``) into ``dest``."""
    from . import FetchResult

    url = page_url or fmt.url
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def hook(status: dict[str, Any]) -> None:
        if stop.is_set():
            raise DownloadCancelled("cancelled by mediavault")
        if status.get("status") == "downloading":
            loop.call_soon_threadsafe(_update, tracker, status)

    params: dict[str, Any] = {
        "outtmpl": {"default": str(dest)},
        "noplaylist": True,
        "continuedl": True,
        "retries": settings.max_retries,
        "fragment_retries": settings.max_retries,
        "concurrent_fragment_downloads": settings.connections_for(""),
        "progress_hooks": [hook],
        "fixup": "never",
        "http_headers": {"User-Agent": settings.user_agent, **fmt.http_headers},
    }
    if page_url:
        params["format"] = fmt.format_id
    bridge = SessionBridge(session, loop)

    def work() -> None:
        with guarded_ytdl(bridge, **params) as ydl:
            ydl.download([url])

    try:
        await _run_in_thread(work, stop, tracker, cancel)
    except DownloadCancelled as exc:
        raise CancelledError_("download cancelled") from exc
    except MediavaultError:
        raise
    except Exception as exc:  # everything yt-dlp raises is translated in one place
        raise translate_ytdlp_error(exc, url) from exc
    if stop.is_set():
        raise CancelledError_("download cancelled")
    try:
        size = os.stat(dest).st_size
    except FileNotFoundError as exc:
        raise IntegrityError(f"yt-dlp finished without writing {dest.name}") from exc
    tracker.total = tracker.downloaded = size
    return FetchResult(path=dest, size=size, sha256=None)


async def _run_in_thread(
    work: Callable[[], None],
    stop: threading.Event,
    tracker: ProgressTracker,
    cancel: asyncio.Event | None,
) -> None:
    """Run ``work`` in a thread, reporting progress; ``stop`` asks it to give up."""
    job = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while not job.done():
            await asyncio.wait({job}, timeout=_CANCEL_POLL)
            tracker.maybe_emit()
            if cancel is not None and cancel.is_set():
                stop.set()
        job.result()
    except asyncio.CancelledError:
        stop.set()  # the thread cannot be killed: let it notice and finish first
        with contextlib.suppress(BaseException):
            await asyncio.shield(job)
        raise


def _update(tracker: ProgressTracker, status: dict[str, Any]) -> None:
    done = int(status.get("downloaded_bytes") or 0)
    tracker.fetched += max(done - tracker.downloaded, 0)
    tracker.downloaded = done
    total = status.get("total_bytes") or status.get("total_bytes_estimate")
    tracker.total = int(total) if total else None
    if status.get("fragment_count"):
        tracker.fragments_total = int(status["fragment_count"])
        tracker.fragments_done = int(status.get("fragment_index") or 0)
