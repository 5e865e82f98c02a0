"""Helpers the platform and subscription tests share (import what you need)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mediavault.config import Settings
from mediavault.models import CollectionEntry, MediaItem
from mediavault.net.session import HttpSession
from mediavault.platforms.base import Adapter, AdapterContext, Cursor
from tests.emulators import onlyfans as of_emu


def write_rules(directory: Path) -> Path:
    path = directory / "rules.json"
    path.write_text(json.dumps(of_emu.RULES))
    return path


async def collect(
    adapter: Adapter, cursor: Cursor | None = None, limit: int | None = None
) -> list[tuple[MediaItem | CollectionEntry, Cursor | None]]:
    out = []
    async for pair in adapter.iter_entries(cursor):
        out.append(pair)
        if limit is not None and len(out) >= limit:
            break
    return out


def context(settings: Settings, session: HttpSession, credentials: dict[str, Any]) -> AdapterContext:
    return AdapterContext(settings=settings, session=session, credentials=credentials)


async def session_for(settings: Settings) -> AsyncIterator[HttpSession]:
    async with HttpSession(settings) as session:
        yield session


async def fetch_first_format(item: MediaItem, settings: Settings, session: HttpSession, out: Path) -> Path:
    """Download ``item``'s first (best) format with the transfer engine."""
    from mediavault.download import fetch

    fmt = item.formats[0]
    dest = out / f"{item.platform}-{item.id}.{fmt.ext}"
    result = await fetch(fmt, dest, session=session, settings=settings, item_id=item.id)
    return result.path


def assert_emulated_bytes(emu, url: str, path: Path) -> None:
    """The downloaded file is byte-identical to what the emulation serves at ``url``."""
    from urllib.parse import urlsplit

    assert path.read_bytes() == emu.media_bytes(urlsplit(url).path)


def drm_requests(emu) -> int:
    return sum(n for p, n in emu.origin.requests.items() if p.startswith("/media/drm/"))
