"""Fansly adapter end to end against the emulated apiv3 (tests.emulators.fansly)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.errors import CredentialsInvalidError, DRMProtectedError, RateLimitedError
from mediavault.models import Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms.base import adapter_for
from mediavault.platforms.fansly import FanslyAdapter
from tests.emulators import fansly as fy_emu
from tests.emulators.content import make_catalog
from tests.emulators.fansly import FanslyEmulator
from tests.emulators.fixtures import (
    assert_emulated_bytes,
    collect,
    context,
    drm_requests,
    fetch_first_format,
)

URL = "https://fansly.com/alice"
CREDS = {"fansly": dict(fy_emu.AUTH)}


@pytest.fixture
def emu(media_root: Path) -> Iterator[FanslyEmulator]:
    with FanslyEmulator(media_root, make_catalog(posts=25, drm_posts=(2,), locked_posts=(6,))) as server:
        yield server


@pytest.fixture
def fy_settings(make_settings, emu):
    return make_settings(fansly_api_base=emu.base_url, max_retries=2)


def test_registry_picks_fansly() -> None:
    assert adapter_for(URL) is FanslyAdapter
    assert adapter_for(FanslyAdapter.example) is FanslyAdapter


async def test_timeline_messages_stories(fy_settings, emu) -> None:
    async with HttpSession(fy_settings) as session:
        adapter = FanslyAdapter(URL, context(fy_settings, session, CREDS))
        collection = await adapter.extract()
        pairs = await collect(adapter)
    assert collection.id == "424242" and collection.title == "Alice Example"
    items = [i for i, _ in pairs]
    posts = [i for i in items if i.extra["feed"] == "posts"]
    assert len(posts) == 30  # 25 videos + 5 photos (bundled), the locked one included
    # 3 full pages and the empty page that ends the timeline
    assert emu.origin.requests["/api/v1/timelinenew/424242"] == 4
    first = posts[0]
    assert first.id == "100001" and {f.format_id for f in first.formats} == {"original", "45p-2"}
    drm = next(i for i in posts if i.id == "100002")
    assert drm.drm and drm.formats[0].protocol is Protocol.HLS
    locked = next(i for i in posts if i.id == "100006")
    assert locked.formats == () and locked.extra["unavailable"]["code"] == "content_locked"
    bundle = [i for i in posts if i.extra["post_id"] == "10005"]
    assert [i.id for i in bundle] == ["100005", "200005"]
    assert [i.extra["feed"] for i in items].count("messages") == 3
    assert [i.extra["feed"] for i in items].count("stories") == 2


async def test_invalid_token_and_rate_limit(fy_settings, emu) -> None:
    bad = {"fansly": {**fy_emu.AUTH, "token": "nope"}}
    async with HttpSession(fy_settings) as session:
        with pytest.raises(CredentialsInvalidError, match="Invalid token"):
            await FanslyAdapter(URL, context(fy_settings, session, bad)).extract()
        emu.rate_limit("/api/v1/timelinenew/424242", times=1, retry_after=1)
        items = await collect(FanslyAdapter(URL + "/posts", context(fy_settings, session, CREDS)))
        assert len(items) == 30
        emu.rate_limit("/api/v1/account", times=9, retry_after=1)
        with pytest.raises(RateLimitedError):
            await FanslyAdapter(URL, context(fy_settings, session, CREDS)).extract()


async def test_media_download_and_drm_skip(fy_settings, emu, tmp_path) -> None:
    async with HttpSession(fy_settings) as session:
        items = {i.id: i for i, _ in await collect(FanslyAdapter(URL, context(fy_settings, session, CREDS)))}
        good = items["100001"]
        path = await fetch_first_format(good, fy_settings, session, tmp_path)
        assert_emulated_bytes(emu, good.formats[0].url, path)
        with pytest.raises(DRMProtectedError):
            await fetch_first_format(items["100002"], fy_settings, session, tmp_path)
    assert drm_requests(emu) == 0  # DRM media is never fetched, let alone decrypted
