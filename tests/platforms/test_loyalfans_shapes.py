"""LoyalFans adapter against PHP-typed answers (flags as "0"/"1", ids under ``id``)."""

from __future__ import annotations

import pytest

from mediavault.models import MediaItem
from mediavault.net.session import HttpSession
from mediavault.platforms.loyalfans import LoyalFansAdapter
from tests.emulators import loyalfans as lf_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import collect, context
from tests.emulators.loyalfans import LoyalFansEmulator

pytestmark = pytest.mark.timeout(90)  # a paging bug must fail, not hang

URL = "https://www.loyalfans.com/alice/posts"
CREDS = {"loyalfans": dict(lf_emu.AUTH)}


async def test_php_typed_answers(make_settings, media_root) -> None:
    catalog = make_catalog(posts=12, locked_posts=(7,), drm_posts=(1,))
    with LoyalFansEmulator(media_root, catalog, variants=("php_types",)) as emu:
        settings = make_settings(loyalfans_api_base=emu.base_url, max_retries=1)
        async with HttpSession(settings) as session:
            pairs = await collect(LoyalFansAdapter(URL, context(settings, session, CREDS)))
        assert emu.origin.requests["/api/v2/social/timeline/alice"] == 2  # has_more 1, then 0
    items: list[MediaItem] = [i for i, _ in pairs]  # type: ignore[misc]
    assert len(items) == 12 + 2  # videos + photos of posts 5 and 10
    by_post = {i.extra["post_id"]: i for i in items if i.kind == "video" or i.formats == ()}
    # "0" is not locked: every unlocked post's media is there with formats
    assert {f.format_id for f in by_post["p10002"].formats} == {"original", "360p"}
    assert by_post["p10001"].drm
    assert by_post["p10007"].extra["unavailable"]["code"] == "content_locked"
    broken = by_post["p10009"].extra["unavailable"]
    assert broken["code"] == "extraction_failed" and "video_object.video_url" in broken["message"]
    photo = next(i for i in items if i.id == "200005")
    assert photo.kind == "image" and photo.formats[0].url.endswith("/media/200005/photo.jpg")


async def test_public_client_shapes(make_settings, media_root) -> None:
    """auth/user/me, the creator under data.user, photos.photos[].images.original, a
    paid video shown by its trailer only, messages paged by offset."""
    catalog = make_catalog(posts=12, locked_posts=(3,), messages=14)
    with LoyalFansEmulator(media_root, catalog, variants=("public_shape",)) as emu:
        settings = make_settings(loyalfans_api_base=emu.base_url, max_retries=1)
        async with HttpSession(settings) as session:
            adapter = LoyalFansAdapter(URL.removesuffix("/posts"), context(settings, session, CREDS))
            collection = await adapter.extract()
            pairs = await collect(adapter)
        assert emu.origin.requests["/api/v1/user/me"] == 0
        assert emu.origin.requests["/api/v2/messages/424242"] == 2  # offsets 0 and 10
        assert emu.media_requests() == 0
    assert collection.id == "424242" and collection.title == "Alice Example"
    items: list[MediaItem] = [i for i, _ in pairs]  # type: ignore[misc]
    posts = [i for i in items if i.extra["feed"] == "posts"]
    assert len(posts) == 12 + 2
    trailer_only = next(i for i in posts if i.id == "100003")
    assert trailer_only.extra["unavailable"]["code"] == "content_locked"
    photo = next(i for i in posts if i.id == "200010")
    assert photo.formats[0].url.endswith("/media/200010/photo.jpg")
    messages = [i.id for i in items if i.extra["feed"] == "messages"]
    assert messages == [str(300_001 + n) for n in range(14)]


async def test_a_server_that_ignores_paging_cannot_loop_forever(make_settings, media_root) -> None:
    catalog = make_catalog(posts=25, photo_every=0)
    with LoyalFansEmulator(media_root, catalog, variants=("no_paging",)) as emu:
        settings = make_settings(loyalfans_api_base=emu.base_url, max_retries=1)
        async with HttpSession(settings) as session:
            pairs = await collect(LoyalFansAdapter(URL, context(settings, session, CREDS)))
        assert emu.origin.requests["/api/v2/social/timeline/alice"] == 2  # the repeat ends it
    assert [i.id for i, _ in pairs] == [str(100_000 + n) for n in range(1, 11)]
