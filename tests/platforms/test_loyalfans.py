"""LoyalFans adapter end to end against its emulation (tests.emulators.loyalfans)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.errors import CredentialsInvalidError, DRMProtectedError, RateLimitedError
from mediavault.net.session import HttpSession
from mediavault.platforms.base import adapter_for
from mediavault.platforms.loyalfans import LoyalFansAdapter
from tests.emulators import loyalfans as lf_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import (
    assert_emulated_bytes,
    collect,
    context,
    drm_requests,
    fetch_first_format,
)
from tests.emulators.loyalfans import LoyalFansEmulator

URL = "https://www.loyalfans.com/alice"
CREDS = {"loyalfans": dict(lf_emu.AUTH)}


@pytest.fixture
def emu(media_root: Path) -> Iterator[LoyalFansEmulator]:
    with LoyalFansEmulator(media_root, make_catalog(posts=23, drm_posts=(1,), locked_posts=(7,))) as server:
        yield server


@pytest.fixture
def lf_settings(make_settings, emu):
    return make_settings(loyalfans_api_base=emu.base_url, max_retries=2)


def test_registry_picks_loyalfans() -> None:
    assert adapter_for(URL) is LoyalFansAdapter
    assert adapter_for(LoyalFansAdapter.example) is LoyalFansAdapter


async def test_pages_and_media(lf_settings, emu) -> None:
    async with HttpSession(lf_settings) as session:
        adapter = LoyalFansAdapter(URL, context(lf_settings, session, CREDS))
        collection = await adapter.extract()
        items = [i for i, _ in await collect(adapter)]
    assert collection.uploader == "alice" and collection.entry_count == 23 + 4 + 3 + 2 + 1
    posts = [i for i in items if i.extra["feed"] == "posts"]
    assert len(posts) == 23 + 4  # videos + photos; locked post 7 is one item without formats
    locked = next(i for i in posts if i.extra["post_id"] == "p10007")
    assert locked.formats == () and locked.extra["unavailable"]["code"] == "content_locked"
    assert emu.origin.requests["/api/v2/social/timeline/alice"] == 3  # 10 + 10 + 3
    assert posts[0].drm and posts[0].id == "100001"
    assert {f.format_id for f in posts[1].formats} == {"original", "360p"}
    assert [i.extra["feed"] for i in items].count("messages") == 3
    assert [i.extra["feed"] for i in items].count("stories") == 2


async def test_401_and_429(lf_settings, emu) -> None:
    bad = {"loyalfans": {**lf_emu.AUTH, "cookie": "loyalfans_session=old"}}
    async with HttpSession(lf_settings) as session:
        with pytest.raises(CredentialsInvalidError, match="Unauthenticated"):
            await LoyalFansAdapter(URL, context(lf_settings, session, bad)).extract()
        emu.rate_limit("/api/v1/user/me", times=9, retry_after=1)
        with pytest.raises(RateLimitedError):
            await LoyalFansAdapter(URL, context(lf_settings, session, CREDS)).extract()


async def test_media_download_and_drm_skip(lf_settings, emu, tmp_path) -> None:
    async with HttpSession(lf_settings) as session:
        items = {i.id: i for i, _ in await collect(LoyalFansAdapter(URL, context(lf_settings, session, CREDS)))}
        good = items["100002"]
        path = await fetch_first_format(good, lf_settings, session, tmp_path)
        assert_emulated_bytes(emu, good.formats[0].url, path)
        with pytest.raises(DRMProtectedError):
            await fetch_first_format(items["100001"], lf_settings, session, tmp_path)
    assert drm_requests(emu) == 0  # DRM media is never fetched, let alone decrypted
