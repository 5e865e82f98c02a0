"""The yt-dlp adapter against the local origin: items, manifests, pages, feeds, errors,
and yt-dlp's own requests passing our host policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.models import Collection, CollectionEntry, MediaItem, Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms.base import AdapterContext
from mediavault.platforms.ytdlp import YtdlpAdapter
from tests.support.origin import Origin, OriginRequest

Factory = Callable[[str], YtdlpAdapter]


@pytest.fixture
async def adapter(settings: Settings) -> AsyncIterator[Factory]:
    async with HttpSession(settings) as session:
        ctx = AdapterContext(settings=settings, session=session)
        yield lambda url: YtdlpAdapter(url, ctx)


async def extract_item(adapter: Factory, url: str) -> MediaItem:
    result = await adapter(url).extract()
    assert isinstance(result, MediaItem)
    return result


async def test_direct_mp4(adapter: Factory, origin: Origin) -> None:
    item = await extract_item(adapter, origin.url("/video.mp4"))
    assert (item.platform, item.id, item.title) == ("generic", "video", "video")
    assert len(item.formats) == 1
    only = item.formats[0]
    assert only.protocol is Protocol.HTTP
    assert only.url == origin.url("/video.mp4")
    assert only.ext == "mp4" and not only.drm and not item.drm


async def test_hls_master_lists_each_quality_as_its_media_playlist(
    adapter: Factory, origin: Origin
) -> None:
    item = await extract_item(adapter, origin.url("/hls/master.m3u8"))
    by_height = {f.height: f for f in item.formats}
    assert set(by_height) == {180, 360}
    for height, name in ((180, "180p"), (360, "360p")):
        fmt = by_height[height]
        assert fmt.protocol is Protocol.HLS
        assert fmt.url == origin.url(f"/hls/{name}/index.m3u8")
        assert fmt.manifest_url == origin.url("/hls/master.m3u8")
        assert fmt.vcodec and fmt.vcodec.startswith("avc1")


async def test_dash_has_separate_video_and_audio_with_absolute_fragments(
    adapter: Factory, origin: Origin
) -> None:
    item = await extract_item(adapter, origin.url("/dash/manifest.mpd"))
    video = [f for f in item.formats if f.is_video_only]
    audio = [f for f in item.formats if f.is_audio_only]
    assert len(video) == 1 and len(audio) == 1
    for fmt in item.formats:
        assert fmt.protocol is Protocol.DASH
        assert fmt.fragments
        assert all(frag.url.startswith(origin.base_url + "/dash/") for frag in fmt.fragments)
        assert "init" in fmt.fragments[0].url
    assert video[0].height == 180


async def test_og_video_page(adapter: Factory, origin: Origin) -> None:
    item = await extract_item(adapter, origin.url("/page.html"))
    assert item.title == "Origin Page Clip"
    assert [f.url for f in item.formats] == [origin.url("/video.mp4")]
    assert item.url == origin.url("/page.html")
    assert [t.url for t in item.thumbnails] == [origin.url("/thumb.jpg")]


async def test_html5_page_subtitles_and_poster(adapter: Factory, origin: Origin) -> None:
    item = await extract_item(adapter, origin.url("/html5.html"))
    assert {(s.lang, s.url) for s in item.subtitles} == {
        ("en", origin.url("/subs.en.vtt")),
        ("de", origin.url("/subs.de.vtt")),
    }
    assert item.thumbnails[0].url == origin.url("/thumb.jpg")


async def test_rss_feed_is_a_collection_of_twelve(adapter: Factory, origin: Origin) -> None:
    result = await adapter(origin.url("/feed.rss")).extract()
    assert isinstance(result, Collection)
    assert result.kind == "feed" and result.title == "Test Channel"
    assert result.entry_count == 12
    assert [e.id for e in result.entries] == [f"clip-{n:02d}" for n in range(12, 0, -1)]
    assert [e.index for e in result.entries] == list(range(1, 13))
    assert result.entries[0].title == "Clip 12"
    assert result.entries[0].url.startswith(origin.url("/feed/clip12.mp4"))


async def test_iter_entries_pages_lazily_and_resumes(
    adapter: Factory, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(YtdlpAdapter, "page_size", 5)
    seen = [
        (entry, cursor) async for entry, cursor in adapter(origin.url("/feed.rss")).iter_entries()
    ]
    assert len(seen) == 12
    assert all(isinstance(entry, CollectionEntry) for entry, _ in seen)
    assert origin.requests["/feed.rss"] == 3  # pages 1-5, 6-10, 11-12
    resume_at = seen[6][1]
    rest = [e async for e, _ in adapter(origin.url("/feed.rss")).iter_entries(resume_at)]
    assert [e.id for e in rest] == [e.id for e, _ in seen[7:]]  # type: ignore[union-attr]


async def test_iter_entries_of_a_single_item(adapter: Factory, origin: Origin) -> None:
    seen = [pair async for pair in adapter(origin.url("/video.mp4")).iter_entries()]
    assert len(seen) == 1 and isinstance(seen[0][0], MediaItem) and seen[0][1] is None


@pytest.mark.parametrize("path", ["/drm/manifest.mpd", "/drm/master.m3u8"])
async def test_drm_formats_are_flagged(adapter: Factory, origin: Origin, path: str) -> None:
    item = await extract_item(adapter, origin.url(path))
    assert item.formats and all(f.drm for f in item.formats)
    assert item.drm


async def test_page_without_media(adapter: Factory, origin: Origin) -> None:
    with pytest.raises(errors.NoMediaError) as info:
        await adapter(origin.url("/nomedia.html")).extract()
    assert info.value.code == "no_media" and "nomedia.html" in info.value.message


async def test_missing_page_is_an_http_error(adapter: Factory, origin: Origin) -> None:
    with pytest.raises(errors.HTTPStatusError) as info:
        await adapter(origin.url("/missing.mp4")).extract()
    assert info.value.status_code == 404


async def test_ytdlp_requests_pass_the_policy(
    make_settings: Callable[..., Settings], origin: Origin
) -> None:
    strict = make_settings(allow_private_networks=False, allowed_hosts=[])
    async with HttpSession(strict) as session:
        ctx = AdapterContext(settings=strict, session=session)
        with pytest.raises(errors.BlockedURLError):
            await YtdlpAdapter(origin.url("/video.mp4"), ctx).extract()
    assert origin.requests["/video.mp4"] == 0


async def test_redirects_followed_by_ytdlp_are_checked(adapter: Factory, origin: Origin) -> None:
    def hop(_: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": "http://10.255.255.1/secret.mp4"}, b""

    origin.routes["/hop.mp4"] = hop
    with pytest.raises(errors.BlockedURLError):
        await adapter(origin.url("/hop.mp4")).extract()
    assert origin.requests["/hop.mp4"] >= 1
