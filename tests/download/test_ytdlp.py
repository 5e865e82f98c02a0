"""Protocols our engines do not handle go to yt-dlp's downloader (through our session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.errors import BlockedURLError, DRMProtectedError
from mediavault.models import Format, Progress, Protocol
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Origin


async def test_ytdlp_fallback_downloads_through_the_session(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    digest = write_random(origin_root / "clip.mp4", 300_000)
    events: list[Progress] = []
    fmt = Format(format_id="x", url=origin.url("/clip.mp4"), protocol=Protocol.YTDLP)
    result = await fetch(fmt, out_dir / "clip.mp4", session=session, settings=settings,
                         on_progress=events.append)
    assert sha256_of(result.path) == digest and result.size == 300_000
    assert origin.requests["/clip.mp4"] >= 1
    assert events[-1].status == "finished" and events[-1].downloaded_bytes == 300_000


async def test_ytdlp_fallback_respects_the_host_policy(
    out_dir: Path, settings: Settings
) -> None:
    strict = settings.model_copy(update={"allowed_hosts": ["192.0.2.1"]})
    async with HttpSession(strict) as session:
        fmt = Format(format_id="x", url="http://127.0.0.1:9/clip.mp4", protocol=Protocol.YTDLP)
        with pytest.raises(BlockedURLError):
            await fetch(fmt, out_dir / "clip.mp4", session=session, settings=strict)


async def test_drm_format_is_never_fetched(
    origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    fmt = Format(format_id="x", url=origin.url("/clip.mp4"), drm=True)
    with pytest.raises(DRMProtectedError):
        await fetch(fmt, out_dir / "clip.mp4", session=session, settings=settings)
    assert origin.requests["/clip.mp4"] == 0
