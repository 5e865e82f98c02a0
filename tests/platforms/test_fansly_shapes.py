"""Fansly adapter against the other shapes the real apiv3 sends (served over HTTP).

The variants (tests.emulators.fansly) follow the public clients (fansly-downloader-ng,
gallery-dl): bundles as ``bundleContent`` with their media fetched from
``account/media``, streaming variants signed with CloudFront cookies, JSON-string
``metadata``, the chat found through ``aggregationData`` or the older ``group`` endpoint,
and message pages shorter than the ``limit`` asked for.
"""

from __future__ import annotations

import pytest

from mediavault.models import MediaItem, Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms.fansly import FanslyAdapter
from tests.emulators import fansly as fy_emu
from tests.emulators.content import make_catalog
from tests.emulators.fansly import CLOUDFRONT, FanslyEmulator
from tests.emulators.fixtures import collect, context, fetch_first_format

pytestmark = pytest.mark.timeout(90)  # a paging bug must fail, not hang

URL = "https://fansly.com/alice"
CREDS = {"fansly": dict(fy_emu.AUTH)}


async def _items(settings, url: str) -> list[MediaItem]:
    async with HttpSession(settings) as session:
        pairs = await collect(FanslyAdapter(url, context(settings, session, CREDS)))
    return [item for item, _ in pairs]  # type: ignore[misc]


async def test_bundle_content_fetches_missing_media(make_settings, media_root) -> None:
    catalog = make_catalog(posts=12, locked_posts=(3,), messages=0, stories=0)
    with FanslyEmulator(media_root, catalog, variants=("bundle_content",)) as emu:
        settings = make_settings(fansly_api_base=emu.base_url, max_retries=1)
        posts = await _items(settings, URL + "/posts")
        # posts 5 and 10 are bundles (video + photo) whose media only account/media has
        assert [i.id for i in posts if i.extra["post_id"] == "10005"] == ["100005", "200005"]
        assert [i.id for i in posts if i.extra["post_id"] == "10010"] == ["100010", "200010"]
        assert len(posts) == 12 + 2
        assert all(i.formats for i in posts if i.id != "100003")
        locked = next(i for i in posts if i.id == "100003")
        assert locked.extra["unavailable"]["code"] == "content_locked"
        assert emu.origin.requests["/api/v1/account/media"] == 1  # both on the first page


async def test_cloudfront_signed_hls_downloads_with_its_cookies(
    make_settings, media_root, tmp_path
) -> None:
    catalog = make_catalog(posts=2, photo_every=0, messages=0, stories=0)
    with FanslyEmulator(media_root, catalog, variants=("cloudfront_hls",)) as emu:
        settings = make_settings(fansly_api_base=emu.base_url, max_retries=1)
        posts = await _items(settings, URL + "/posts")
        video = posts[0]
        assert video.duration == 7.5  # from metadata sent as a JSON string
        by_protocol = {f.protocol: f for f in video.formats}
        assert set(by_protocol) == {Protocol.HLS, Protocol.DASH}
        assert not video.drm and not any(f.drm for f in video.formats)
        cookie = by_protocol[Protocol.HLS].http_headers["Cookie"]
        assert all(f"CloudFront-{k}={v}" in cookie for k, v in CLOUDFRONT.items())
        async with HttpSession(settings) as session:
            hls = video.model_copy(update={"formats": (by_protocol[Protocol.HLS],)})
            path = await fetch_first_format(hls, settings, session, tmp_path)
        assert path.stat().st_size > 10_000
        assert emu.cdn_refused == 0
        assert any(p.endswith(".ts") for p in emu.origin.requests if p.startswith("/cdn/"))


@pytest.mark.parametrize("variant", ["groups_aggregation", "groups_legacy", "many_groups"])
async def test_chat_found_in_every_groups_shape(make_settings, media_root, variant) -> None:
    catalog = make_catalog(posts=1, messages=3, stories=0)
    with FanslyEmulator(media_root, catalog, variants=(variant,)) as emu:
        settings = make_settings(fansly_api_base=emu.base_url, max_retries=1)
        messages = await _items(settings, URL + "/messages")
    assert [i.id for i in messages] == ["300001", "300002", "300003"]


async def test_short_message_pages_are_followed_to_the_end(make_settings, media_root) -> None:
    catalog = make_catalog(posts=1, messages=5, stories=0)
    with FanslyEmulator(media_root, catalog, variants=("short_pages",)) as emu:
        settings = make_settings(fansly_api_base=emu.base_url, max_retries=1)
        messages = await _items(settings, URL + "/messages")
        assert [i.id for i in messages] == [str(300_001 + n) for n in range(5)]
        assert emu.origin.requests["/api/v1/message"] == 4  # 2 + 2 + 1, then empty
