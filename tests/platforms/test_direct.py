"""The direct-file adapter: plain media URLs without yt-dlp, the same items yt-dlp makes,
and everything else handed on to yt-dlp."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.models import MediaItem, Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms.base import AdapterContext, adapter_for
from mediavault.platforms.direct import DirectFileAdapter
from mediavault.platforms.ytdlp import YtdlpAdapter
from tests.support.origin import Origin, OriginRequest

Factory = Callable[[str], DirectFileAdapter]


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AdapterContext]:
    async with HttpSession(settings) as session:
        yield AdapterContext(settings=settings, session=session)


def test_registry_routes_media_extensions_to_direct_and_pages_to_ytdlp() -> None:
    assert adapter_for("https://cdn.example.com/a/b/clip.mp4") is DirectFileAdapter
    assert adapter_for("https://cdn.example.com/song.MP3?sig=1") is DirectFileAdapter
    assert adapter_for("https://example.com/watch?v=clip.mp4") is YtdlpAdapter
    assert adapter_for("https://example.com/master.m3u8") is DirectFileAdapter
    assert adapter_for("https://example.com/live/index.M3U8?token=x") is DirectFileAdapter
    assert adapter_for("https://example.com/manifest.mpd") is YtdlpAdapter
    assert adapter_for("https://example.com/page.html") is YtdlpAdapter
    smuggled = 'https://example.com/c/clip.mp4#__youtubedl_smuggle=%7B%22id%22%3A+%22c-1%22%7D'
    assert adapter_for(smuggled) is YtdlpAdapter  # a feed entry keeps its guid as id


async def test_direct_item_matches_what_ytdlp_makes(ctx: AdapterContext, origin: Origin) -> None:
    url = origin.url("/video.mp4")
    direct = await DirectFileAdapter(url, ctx).extract()
    generic = await YtdlpAdapter(url, ctx).extract()
    assert isinstance(direct, MediaItem) and isinstance(generic, MediaItem)
    same = ("platform", "id", "title", "upload_date", "kind")
    assert {k: getattr(direct, k) for k in same} == {k: getattr(generic, k) for k in same}
    (fmt,) = direct.formats
    assert (fmt.format_id, fmt.ext, fmt.protocol) == (generic.formats[0].format_id, "mp4", Protocol.HTTP)
    assert fmt.filesize == origin.root.joinpath("video.mp4").stat().st_size
    assert direct.extra == {"direct": True}


async def test_audio_file_is_audio(ctx: AdapterContext, origin: Origin) -> None:
    item = await DirectFileAdapter(origin.url("/audio.m4a"), ctx).extract()
    assert isinstance(item, MediaItem)
    assert item.kind == "audio" and item.formats[0].vcodec == "none"


async def test_html_behind_a_media_name_goes_to_ytdlp(ctx: AdapterContext, origin: Origin) -> None:
    page = origin.routes["/page.html"]
    origin.routes["/disguised.mp4"] = page  # an og:video page whose URL ends in .mp4
    item = await DirectFileAdapter(origin.url("/disguised.mp4"), ctx).extract()
    assert isinstance(item, MediaItem)
    assert item.extra.get("direct") is None  # yt-dlp found the og:video behind the page
    assert item.formats[0].url.endswith(".mp4")


async def test_head_refused_falls_back_to_ytdlp(ctx: AdapterContext, origin: Origin) -> None:
    video = origin.root.joinpath("video.mp4").read_bytes()

    def no_head(request: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        if request.method == "HEAD":
            return 405, {}, b""
        return 200, {"Content-Type": "video/mp4"}, video

    origin.routes["/nohead.mp4"] = no_head
    item = await DirectFileAdapter(origin.url("/nohead.mp4"), ctx).extract()
    assert isinstance(item, MediaItem)
    assert item.id == "nohead"


async def test_missing_file_is_not_found(ctx: AdapterContext, origin: Origin) -> None:
    with pytest.raises(errors.HTTPStatusError) as info:
        await DirectFileAdapter(origin.url("/missing.mp4"), ctx).extract()
    assert info.value.status_code == 404


def test_a_direct_download_never_imports_ytdlp(origin: Origin, tmp_path: str) -> None:
    script = f"""
import asyncio, sys
from mediavault import Client, get_settings
async def main():
    settings = get_settings(allow_private_networks=True, data_dir={str(tmp_path)!r})
    async with Client(settings, output_dir={str(tmp_path)!r}) as mv:
        (result,) = await mv.download({origin.url('/video.mp4')!r})
    assert result.status == "completed", result
    assert "yt_dlp" not in sys.modules, "yt-dlp was imported for a plain file"
asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def test_hls_master_playlist_without_ytdlp(ctx: AdapterContext, origin: Origin) -> None:
    url = origin.url("/hls/master.m3u8")
    direct = await DirectFileAdapter(url, ctx).extract()
    generic = await YtdlpAdapter(url, ctx).extract()
    assert isinstance(direct, MediaItem) and isinstance(generic, MediaItem)
    same = ("platform", "id", "title", "kind")
    assert {k: getattr(direct, k) for k in same} == {k: getattr(generic, k) for k in same}
    assert [f.url for f in direct.formats] == [f.url for f in generic.formats]
    assert [f.format_id for f in direct.formats] == [f.format_id for f in generic.formats]
    assert [f.height for f in direct.formats] == [f.height for f in generic.formats]
    assert all(f.protocol is Protocol.HLS for f in direct.formats)
    assert direct.extra == {"direct": True}


async def test_a_media_playlist_is_one_hls_format(ctx: AdapterContext, origin: Origin) -> None:
    item = await DirectFileAdapter(origin.url("/hls/180p/index.m3u8"), ctx).extract()
    generic = await YtdlpAdapter(origin.url("/hls/180p/index.m3u8"), ctx).extract()
    assert isinstance(item, MediaItem) and isinstance(generic, MediaItem)
    assert [f.format_id for f in item.formats] == [f.format_id for f in generic.formats]
    (fmt,) = item.formats
    assert fmt.protocol is Protocol.HLS and item.duration and item.duration > 1
    assert (item.id, item.title) == ("index", "index")


@pytest.mark.parametrize("playlist", ["master.m3u8", "index.m3u8"])
async def test_a_drm_playlist_is_a_drm_item(
    playlist: str, ctx: AdapterContext, origin: Origin
) -> None:
    item = await DirectFileAdapter(origin.url(f"/drm/{playlist}"), ctx).extract()
    assert isinstance(item, MediaItem)
    assert item.drm and all(f.drm for f in item.formats)


async def test_a_page_named_m3u8_goes_to_ytdlp(ctx: AdapterContext, origin: Origin) -> None:
    origin.routes["/fake.m3u8"] = lambda req: (200, {"Content-Type": "text/html"}, b"<html></html>")
    with pytest.raises(errors.MediavaultError):  # yt-dlp's verdict, not ours
        await DirectFileAdapter(origin.url("/fake.m3u8"), ctx).extract()
    assert origin.requests["/fake.m3u8"] >= 2, "yt-dlp had its own look"


async def test_a_missing_playlist_is_not_found(ctx: AdapterContext, origin: Origin) -> None:
    with pytest.raises(errors.HTTPStatusError) as info:
        await DirectFileAdapter(origin.url("/nope.m3u8"), ctx).extract()
    assert info.value.status_code == 404


@pytest.mark.parametrize(
    "kw",
    [
        {"content_type": "application/octet-stream"},  # object stores' default type
        {"content_type": "binary/octet-stream"},
        {"head_status": 403},  # a URL signed for GET only (S3, R2, B2 presigned)
        {"head_status": 405},  # HEAD not allowed
    ],
    ids=["octet-stream", "binary-octet-stream", "head-403", "head-405"],
)
async def test_a_file_its_server_describes_badly_is_still_direct(
    ctx: AdapterContext, media_root: Path, kw: dict[str, Any],
) -> None:
    from tests.download.test_odd_origins import OddOrigin

    data = (media_root / "video.mp4").read_bytes()
    with OddOrigin(data, "plain", **kw) as server:
        url = f"http://127.0.0.1:{server.port}/files/clip.mp4?X-Amz-Signature=abc"
        item = await DirectFileAdapter(url, ctx).extract()
    assert isinstance(item, MediaItem) and item.extra == {"direct": True}  # no yt-dlp
    (fmt,) = item.formats
    assert (item.id, item.kind, fmt.format_id, fmt.ext) == ("clip", "video", "mp4", "mp4")
    assert fmt.filesize == len(data)


async def test_a_binary_file_without_a_media_extension_type_goes_to_ytdlp(
    ctx: AdapterContext, media_root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.download.test_odd_origins import OddOrigin

    handed: list[str] = []

    async def ytdlp_extract(self: YtdlpAdapter) -> MediaItem:
        handed.append(self.url)
        raise errors.UnsupportedURLError("stop here")

    monkeypatch.setattr(YtdlpAdapter, "extract", ytdlp_extract)
    with OddOrigin(b"x" * 100, "plain", head_status=403) as server:
        url = f"http://127.0.0.1:{server.port}/files/clip.mp4"
        server.content_type = "text/html"  # the GET answers a page, not media
        with pytest.raises(errors.UnsupportedURLError):
            await DirectFileAdapter(url, ctx).extract()
    assert handed == [url]
