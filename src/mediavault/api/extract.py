"""Extraction for the synchronous info endpoints (formats, metadata, previews).

The URL passes the same checks as a job's; the caller's cookie set (if named) is
written to a private temp file for the duration of the call; extraction is bounded in
time so a slow site cannot pin an API worker. ``filter_entries`` is
``mediavault.filters.filter_entries``, the one filter shared with channel job expansion.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from mediavault import accounts
from mediavault.api.state import Services
from mediavault.api.urls import check_input_url
from mediavault.errors import TimeoutError_
from mediavault.filters import filter_entries
from mediavault.jobs.kinds import parse_items
from mediavault.jobs.tables import User
from mediavault.models import Collection, CollectionEntry, MediaItem

__all__ = ["EXTRACT_TIMEOUT", "extract", "filter_entries", "select_items"]

EXTRACT_TIMEOUT = 90.0


@asynccontextmanager
async def _cookies_file(
    services: Services, user: User, cookies_id: str | None
) -> AsyncIterator[str | None]:
    if cookies_id is None:
        yield None
        return

    def load() -> str:
        with services.db.sessionmaker() as session:
            return accounts.load_cookies(services.settings, session, user.id, cookies_id)

    text = await run_in_threadpool(load)
    name = await run_in_threadpool(_write_private, Path(services.settings.data_dir) / "tmp", text)
    try:
        yield name
    finally:
        await run_in_threadpool(Path(name).unlink, True)


def _write_private(scratch: Path, text: str) -> str:
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="cookies-", suffix=".txt", dir=scratch)
    with os.fdopen(fd, "w") as fh:  # mkstemp: mode 0600
        fh.write(text)
    return name


async def extract(
    services: Services, user: User, url: str, *, cookies_id: str | None = None
) -> MediaItem | Collection:
    await check_input_url(services.settings, services.policy, url)
    from mediavault.client import Client

    async with _cookies_file(services, user, cookies_id) as cookies_file:
        try:
            async with asyncio.timeout(EXTRACT_TIMEOUT):
                async with Client(services.settings, cookies_file=cookies_file) as client:
                    return await client.info(url)
        except TimeoutError as exc:
            raise TimeoutError_(f"extraction took longer than {EXTRACT_TIMEOUT:.0f}s") from exc


def select_items(entries: list[CollectionEntry], spec: str | None) -> list[CollectionEntry]:
    """Entries picked by a 1-based ``"1-10,15"`` spec (as a playlist job picks them)."""
    wanted = parse_items(spec)
    return [e for i, e in enumerate(entries, 1) if wanted is None or i in wanted]
