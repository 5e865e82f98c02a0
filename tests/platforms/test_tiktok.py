"""TikTok profile adapter: the browser -> HTTP strategy chain against the emulation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.errors import BotDetectedError
from mediavault.net.session import HttpSession
from mediavault.platforms._tiktok_fetch import HttpStrategy
from mediavault.platforms.base import adapter_for
from mediavault.platforms.tiktok import TikTokAdapter
from tests.emulators.fixtures import assert_emulated_bytes, collect, context, fetch_first_format
from tests.emulators.tiktok import TikTokEmulator

URL = "https://www.tiktok.com/@alice"


@pytest.fixture
def emu(media_root: Path) -> Iterator[TikTokEmulator]:
    with TikTokEmulator(media_root, videos=25, page=10) as server:
        yield server


@pytest.fixture
def tt_settings(make_settings, emu):
    return make_settings(tiktok_api_base=emu.base_url, tiktok_web_base=emu.base_url)


class HttpOnly(TikTokAdapter):
    strategies = (HttpStrategy,)


def test_registry_picks_tiktok_profiles_only() -> None:
    assert adapter_for(URL) is TikTokAdapter
    assert adapter_for(TikTokAdapter.example) is TikTokAdapter
    assert not TikTokAdapter.suitable("https://www.tiktok.com/@alice/video/123")


async def test_browser_serves_when_not_blocked(tt_settings, emu) -> None:
    async with HttpSession(tt_settings) as session:
        adapter = TikTokAdapter(URL, context(tt_settings, session, {}))
        try:
            collection = await adapter.extract()
            items = [i for i, _ in await collect(adapter, limit=12)]
        finally:
            await adapter.close()
    assert adapter.served_by == "browser" and "HeadlessChrome" not in emu.page_agents[0]
    assert collection.entry_count == 25 and collection.uploader == "alice"
    assert len(items) == 12 and items[0].extra["strategy"] == "browser"
    assert emu.origin.requests["/api/post/item_list/"] == 2


async def test_falls_back_to_http_on_captcha_and_says_so(tt_settings, emu, caplog) -> None:
    emu.captcha_pages = 1  # the browser's page load gets the captcha
    caplog.set_level("INFO", logger="mediavault.platforms.tiktok")
    async with HttpSession(tt_settings) as session:
        adapter = TikTokAdapter(URL, context(tt_settings, session, {}))
        try:
            collection = await adapter.extract()
            pairs = await collect(adapter)
        finally:
            await adapter.close()
    assert adapter.served_by == "http"
    assert adapter.strategy_log[0].startswith("profile: browser blocked")
    assert "served by http" in adapter.strategy_log[1]
    assert "served by http" in caplog.text
    items = [i for i, _ in pairs]
    assert collection.title == "Alice TT" and len(items) == 25
    assert emu.origin.requests["/api/post/item_list/"] == 3  # 10 + 10 + 5
    assert all(i.extra["strategy"] == "http" for i in items)
    first = items[0]
    assert first.id == "7299999999999999999" and first.upload_date == "20231114"
    assert [f.format_id for f in first.formats] == ["normal_540_0", "lower_360_0", "play", "watermarked"]


async def test_http_resumes_from_cursor_and_reads_sigi_state(make_settings, media_root) -> None:
    with TikTokEmulator(media_root, videos=12, page=5, sigi=True) as emu:
        settings = make_settings(tiktok_api_base=emu.base_url, tiktok_web_base=emu.base_url)
        async with HttpSession(settings) as session:
            full = [i.id for i, _ in await collect(HttpOnly(URL, context(settings, session, {})))]
            head = await collect(HttpOnly(URL, context(settings, session, {})), limit=7)
            rest = await collect(HttpOnly(URL, context(settings, session, {})), head[-1][1])
    assert len(full) == 12 and [i.id for i, _ in head] + [i.id for i, _ in rest] == full


async def test_every_strategy_blocked_is_bot_detected(tt_settings, emu) -> None:
    emu.captcha_pages = 1
    async with HttpSession(tt_settings) as session:
        adapter = HttpOnly(URL, context(tt_settings, session, {}))
        with pytest.raises(BotDetectedError):
            await adapter.extract()
        emu.empty_lists = 1
        adapter = HttpOnly(URL, context(tt_settings, session, {}))
        await adapter.extract()
        with pytest.raises(BotDetectedError, match="empty"):
            await collect(adapter)
        await adapter.close()


async def test_video_download_through_the_engine(tt_settings, emu, tmp_path) -> None:
    async with HttpSession(tt_settings) as session:
        adapter = HttpOnly(URL, context(tt_settings, session, {}))
        item = (await collect(adapter, limit=1))[0][0]
        path = await fetch_first_format(item, tt_settings, session, tmp_path)
        await adapter.close()
    assert_emulated_bytes(emu, item.formats[0].url, path)
