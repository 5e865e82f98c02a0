"""OnlyFans adapter against the other shapes the real /api2/v2 sends (served over HTTP).

Each test switches on an emulator variant (tests.emulators.onlyfans) that reproduces a
shape the public clients (OF-Scraper, UltimaScraperAPI) handle: PHP's ``[]`` for empty
objects and ``null`` file entries, bare-list answers of older API versions, paid posts
with teasers, and answers the adapter cannot read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mediavault.client import Client
from mediavault.errors import ExtractionError
from mediavault.models import DownloadOptions, ItemStatus, MediaItem
from mediavault.net.session import HttpSession
from mediavault.platforms.onlyfans import OnlyFansAdapter
from tests.emulators import onlyfans as of_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import collect, context, write_rules
from tests.emulators.onlyfans import OnlyFansEmulator

pytestmark = pytest.mark.timeout(90)  # a paging bug must fail, not hang

URL = "https://onlyfans.com/alice"
CREDS = {"onlyfans": {"auth": dict(of_emu.AUTH)}}


def _settings(make_settings, emu: OnlyFansEmulator, tmp_path: Path):
    return make_settings(
        onlyfans_api_base=emu.base_url, onlyfans_rules=str(write_rules(tmp_path)), max_retries=1
    )


async def _items(settings, url: str = URL) -> list[MediaItem]:
    async with HttpSession(settings) as session:
        pairs = await collect(OnlyFansAdapter(url, context(settings, session, CREDS)))
    items = [item for item, _ in pairs]
    assert all(isinstance(i, MediaItem) for i in items)
    return items  # type: ignore[return-value]


async def test_php_arrays_bare_lists_and_null_files(make_settings, media_root, tmp_path) -> None:
    """``videoSources: []``, ``files.preview: null``, a bare posts list paged by
    ``beforePublishTime`` and a bare highlights list: all read, nothing lost."""
    catalog = make_catalog(posts=23, locked_posts=(4,))
    variants = ("php_arrays", "bare_posts", "bare_highlights")
    with OnlyFansEmulator(media_root, catalog, variants=variants) as emu:
        items = await _items(_settings(make_settings, emu, tmp_path))
        posts = [i for i in items if i.extra["feed"] == "posts"]
        assert len(posts) == 23 + 4  # videos + photos (the locked one reported)
        # 10 + 10 + 3, then the empty page that ends a bare list
        assert emu.origin.requests["/api2/v2/users/424242/posts"] == 4
    video = next(i for i in posts if i.id == "100001")
    assert {f.format_id for f in video.formats} == {"source", "720p"}  # 240 was null
    photo = next(i for i in posts if i.id == "200005")
    assert photo.kind == "image" and [f.format_id for f in photo.formats] == ["source", "preview"]
    highlights = [i for i in items if i.extra["feed"] == "highlights"]
    assert [i.id for i in highlights] == ["500001"]


async def test_paid_post_is_reported_skipped_not_dropped(make_settings, media_root, tmp_path) -> None:
    """A locked media of a paid post (teaser preview only) is listed without formats and
    the pipeline reports it skipped with ``content_locked``; the teaser is never fetched."""
    catalog = make_catalog(posts=5, locked_posts=(2,), messages=0, stories=0, highlights=0)
    with OnlyFansEmulator(media_root, catalog, variants=("paid",)) as emu:
        settings = _settings(make_settings, emu, tmp_path)
        items = await _items(settings, URL + "/posts")
        locked = next(i for i in items if i.id == "100002")
        assert locked.formats == ()
        assert locked.extra["unavailable"]["code"] == "content_locked"
        assert "price 5" in locked.extra["unavailable"]["message"]
        async with Client(settings, output_dir=tmp_path / "out") as client:
            result = await client.download_entry(locked, DownloadOptions(template="{id}.{ext}"))
            good = await client.download_entry(items[0], DownloadOptions(template="{id}.{ext}"))
        assert result.status == ItemStatus.SKIPPED and result.reason == "content_locked"
        assert good.status == ItemStatus.COMPLETED
        # the engine sends a format's headers: the session's user agent goes with each
        assert items[0].formats[0].http_headers["User-Agent"] == of_emu.AUTH["user_agent"]
        seen = zip(emu.origin.log, emu.origin.headers_seen, strict=True)
        agents = [h.get("User-Agent") for (_, p, _), h in seen if p.startswith("/media/")]
        assert agents and set(agents) == {of_emu.AUTH["user_agent"]}
        assert emu.origin.requests["/media/100002/teaser.jpg"] == 0


async def test_unreadable_posts_fail_alone_and_name_the_field(
    make_settings, media_root, tmp_path
) -> None:
    catalog = make_catalog(posts=12, photo_every=0, messages=0, stories=0, highlights=0)
    with OnlyFansEmulator(media_root, catalog, variants=("broken",)) as emu:
        settings = _settings(make_settings, emu, tmp_path)
        items = await _items(settings, URL + "/posts")
        # the other 10 posts are all there, in order, after the two broken ones
        good = [i.id for i in items if "unavailable" not in i.extra]
        assert good == [str(100_000 + n) for n in range(1, 13) if n not in (6, 7)]
        broken = {i.extra["post_id"]: i.extra["unavailable"] for i in items if i.formats == ()}
        assert len(broken) == 2
        assert broken["10006"]["code"] == "extraction_failed"
        assert "files.full.url" in broken["10006"]["message"]
        no_id = next(v for k, v in broken.items() if k != "10006")
        assert no_id["code"] == "extraction_failed" and "missing field 'id'" in no_id["message"]
        failing = next(i for i in items if i.extra["post_id"] == "10006")
        async with Client(settings, output_dir=tmp_path / "out") as client:
            with pytest.raises(ExtractionError, match="999006"):
                await client.download_entry(failing, DownloadOptions(template="{id}.{ext}"))


async def test_changed_answer_shape_is_an_extraction_error_naming_the_field(
    make_settings, media_root, tmp_path
) -> None:
    catalog = make_catalog(posts=3, messages=0, stories=0, highlights=0)
    with OnlyFansEmulator(media_root, catalog, variants=("list_as_object",)) as emu:
        with pytest.raises(ExtractionError, match="'list' is dict, expected a list"):
            await _items(_settings(make_settings, emu, tmp_path), URL + "/posts")


async def test_flat_media_shape(make_settings, media_root, tmp_path) -> None:
    """Media with a flat ``url`` (no ``files``), locked ones flagged ``locked: true``."""
    catalog = make_catalog(posts=6, locked_posts=(2,), messages=0, stories=0, highlights=0)
    with OnlyFansEmulator(media_root, catalog, variants=("flat_media",)) as emu:
        items = await _items(_settings(make_settings, emu, tmp_path), URL + "/posts")
    by_id = {i.id: i for i in items}
    assert {f.format_id for f in by_id["100001"].formats} == {"source", "720p", "240p"}
    assert by_id["100001"].thumbnails[0].url.endswith("/media/100001/thumb.jpg")
    assert [f.format_id for f in by_id["200005"].formats] == ["source", "preview"]
    assert by_id["100002"].extra["unavailable"]["code"] == "content_locked"
    assert len(items) == 6 + 1


async def test_offset_paging_server(make_settings, media_root, tmp_path) -> None:
    """A server that ignores ``beforePublishTime``/``id`` and pages by ``offset``: the
    repeated first page is noticed once, then the feed goes on by offset."""
    catalog = make_catalog(posts=25, messages=23, stories=0, highlights=0, photo_every=0)
    with OnlyFansEmulator(media_root, catalog, variants=("offset_paging",)) as emu:
        items = await _items(_settings(make_settings, emu, tmp_path))
        # 3 pages of 10/10/5, plus the one repeated page that gave the server away
        assert emu.origin.requests["/api2/v2/users/424242/posts"] == 4
        assert emu.origin.requests["/api2/v2/chats/424242/messages"] == 4
    posts = [i.id for i in items if i.extra["feed"] == "posts"]
    messages = [i.id for i in items if i.extra["feed"] == "messages"]
    assert posts == [str(100_000 + n) for n in range(1, 26)]
    assert messages == [str(300_000 + n) for n in range(1, 24)]


def test_older_rule_file_shapes_sign_the_same() -> None:
    """``sign_format`` with a plain ``{}`` for the hex checksum, and a
    ``checksum_constants`` list instead of ``checksum_constant``: the same sign."""
    from mediavault.platforms._signing import SigningRules

    path, stamp = "/api2/v2/users/me", 1_700_000_000_123
    expected = of_emu.expected_sign(path, str(stamp), "777")
    base = {k: v for k, v in of_emu.RULES.items() if k not in ("format", "checksum_constant")}
    older = SigningRules.from_mapping(
        {**base, "sign_format": "31337:{}:{}:65f0aa21", "checksum_constants": [-200, -12]}
    )
    assert older.sign(path, "777", now_ms=stamp)["sign"] == expected
