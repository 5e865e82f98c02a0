"""TikTok profile adapter against the other shapes TikTok's web API sends (over HTTP).

The variants (tests.emulators.tiktok) follow what yt-dlp's TikTok extractors and the
public scrapers handle: photo slideshows (``imagePost``), loosely typed fields, the
``/api/creator/item_list/`` endpoint paged by time, private accounts, a cursor that
does not move, and a profile name spelled in another case.
"""

from __future__ import annotations

import asyncio

import pytest

from mediavault.errors import BotDetectedError, ExtractionError
from mediavault.models import MediaItem
from mediavault.net.session import HttpSession
from mediavault.platforms._tiktok_fetch import HttpStrategy
from mediavault.platforms.tiktok import TikTokAdapter
from tests.emulators.fixtures import assert_emulated_bytes, collect, context, fetch_first_format
from tests.emulators.tiktok import TikTokEmulator

pytestmark = pytest.mark.timeout(90)  # a paging bug must fail, not hang

URL = "https://www.tiktok.com/@alice"


class HttpOnly(TikTokAdapter):
    strategies = (HttpStrategy,)


def _settings(make_settings, emu: TikTokEmulator):
    return make_settings(tiktok_api_base=emu.base_url, tiktok_web_base=emu.base_url)


async def _items(adapter: TikTokAdapter) -> list[MediaItem]:
    try:
        return [i for i, _ in await collect(adapter)]  # type: ignore[misc]
    finally:
        await adapter.close()


async def test_photo_posts_are_listed_image_by_image(make_settings, media_root, tmp_path) -> None:
    with TikTokEmulator(media_root, videos=4, page=10, variants=("photo_post",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            items = await _items(HttpOnly(URL, context(settings, session, {})))
            photos = [i for i in items if i.kind == "image"]
            path = await fetch_first_format(photos[1], settings, session, tmp_path)
        assert_emulated_bytes(emu, photos[1].formats[0].url, path)
    vid = "7299999999999999998"
    assert [i.id for i in items] == [
        "7299999999999999999", f"{vid}-1", f"{vid}-2", f"{vid}-3",
        "7299999999999999997", "7299999999999999996",
    ]
    assert photos[0].url.endswith(f"/@alice/photo/{vid}")
    assert photos[0].formats[0].url.endswith(f"/media/{vid}/img1.jpg")
    assert photos[0].formats[0].acodec == "none" and photos[0].title.endswith("(1)")


async def test_loosely_typed_fields(make_settings, media_root) -> None:
    with TikTokEmulator(media_root, videos=12, page=5, variants=("loose_types",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            items = await _items(HttpOnly(URL, context(settings, session, {})))
        assert emu.origin.requests["/api/post/item_list/"] == 3  # "false" ends the list
    assert len(items) == 12
    first = items[0]
    assert first.uploader == "alice" and first.upload_date == "20231114"
    assert first.view_count == 101 and first.like_count == 1


async def test_creator_item_list_when_post_item_list_is_gone(make_settings, media_root) -> None:
    """Through the browser (the item list fetched in the page) and through plain HTTP."""
    with TikTokEmulator(media_root, videos=25, page=10, variants=("creator_api",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            browser = TikTokAdapter(URL, context(settings, session, {}))
            via_browser = await _items(browser)
            via_http = await _items(HttpOnly(URL, context(settings, session, {})))
        assert emu.origin.requests["/api/creator/item_list/"] == 2 * 3  # 10 + 10 + 5
    assert browser.served_by == "browser"
    expected = [str(7_300_000_000_000_000_000 - n) for n in range(1, 26)]
    assert [i.id for i in via_browser] == expected
    assert [i.id for i in via_http] == expected


async def test_private_account_is_said_so(make_settings, media_root) -> None:
    with TikTokEmulator(media_root, variants=("private",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            adapter = HttpOnly(URL, context(settings, session, {}))
            with pytest.raises(ExtractionError, match="private") as info:
                await adapter.extract()
            await adapter.close()
    assert not isinstance(info.value, BotDetectedError)


@pytest.mark.parametrize("variant", ["stuck_cursor", "same_page"])
async def test_a_page_that_does_not_move_ends_the_listing(make_settings, media_root, variant) -> None:
    with TikTokEmulator(media_root, videos=25, page=10, variants=(variant,)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            adapter = HttpOnly(URL, context(settings, session, {}))
            items = await asyncio.wait_for(_items(adapter), timeout=20)
        assert emu.origin.requests["/api/post/item_list/"] == (1 if variant == "stuck_cursor" else 2)
    assert [i.id for i in items] == [str(7_300_000_000_000_000_000 - n) for n in range(1, 11)]


async def test_profile_name_in_another_case(make_settings, media_root) -> None:
    with TikTokEmulator(media_root, videos=3, sigi=True, variants=("any_case",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            adapter = HttpOnly("https://www.tiktok.com/@ALICE", context(settings, session, {}))
            collection = await adapter.extract()
            items = await _items(adapter)
    assert collection.uploader == "alice" and len(items) == 3


@pytest.mark.parametrize("browser", [False, True], ids=["http", "browser"])
async def test_video_cdn_gets_the_cookies_and_referer(
    make_settings, media_root, tmp_path, browser
) -> None:
    """TikTok's CDN wants the cookies the pages set (``tt_chain_token``) and the Referer;
    they travel on every format, which is what the transfer engine sends."""
    with TikTokEmulator(media_root, videos=3, variants=("cdn_guard",)) as emu:
        settings = _settings(make_settings, emu)
        async with HttpSession(settings) as session:
            cls = TikTokAdapter if browser else HttpOnly
            adapter = cls(URL, context(settings, session, {}))
            items = await _items(adapter)
            path = await fetch_first_format(items[0], settings, session, tmp_path)
        assert adapter.served_by == ("browser" if browser else "http")
        assert_emulated_bytes(emu, items[0].formats[0].url, path)
        assert emu.cdn_refused == 0
    assert "tt_chain_token=" in items[0].formats[0].http_headers["Cookie"]
