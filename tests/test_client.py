"""The library API end to end: every media kind from the origin, collections, cancel/resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import mediavault
from mediavault import errors
from mediavault.client import Client, PlaylistItems
from mediavault.config import Settings
from mediavault.models import (
    Collection,
    CollectionEntry,
    DownloadOptions,
    ItemStatus,
    MediaItem,
    Progress,
)
from mediavault.postprocess import probe
from tests.support.origin import Origin


@pytest.fixture
async def mv(settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    async with mediavault.Client(settings, output_dir=tmp_path / "out") as client:
        yield client


async def played(mv: Client, path: str | None, settings: Settings):  # type: ignore[no-untyped-def]
    assert path is not None
    local = mv.storage.local_path(path)
    assert local is not None and local.is_file()
    return await probe(local, settings=settings)


async def test_info_and_formats(mv: Client, origin: Origin) -> None:
    item = await mv.info(origin.url("/hls/master.m3u8"))
    assert isinstance(item, MediaItem)
    assert sorted(f.height or 0 for f in await mv.formats(origin.url("/hls/master.m3u8"))) == [
        180,
        360,
    ]
    feed = await mv.info(origin.url("/feed.rss"))
    assert isinstance(feed, Collection) and feed.entry_count == 12
    with pytest.raises(errors.InputError, match="feed of 12 entries"):
        await mv.formats(origin.url("/feed.rss"))


async def test_hls_chosen_quality(mv: Client, origin: Origin, settings: Settings) -> None:
    [result] = await mv.download(origin.url("/hls/master.m3u8"), DownloadOptions(format="180p"))
    assert result.status is ItemStatus.COMPLETED
    info = await played(mv, result.path, settings)
    assert [s.height for s in info.of_type("video")] == [180]
    assert info.has_audio and info.duration == pytest.approx(3.0, abs=0.3)
    assert origin.requests["/hls/360p/index.m3u8"] == 0


async def test_dash_pair_is_merged(mv: Client, origin: Origin, settings: Settings) -> None:
    events: list[Progress] = []
    [result] = await mv.download(origin.url("/dash/manifest.mpd"), on_progress=events.append)
    assert result.format_id is not None and "+" in result.format_id
    info = await played(mv, result.path, settings)
    assert info.has_video and info.has_audio
    assert info.duration == pytest.approx(3.0, abs=0.3)
    assert events and events[-1].status == "finished"


async def test_og_video_page(mv: Client, origin: Origin, settings: Settings) -> None:
    [result] = await mv.download(
        origin.url("/page.html"), DownloadOptions(template="{title}.{ext}")
    )
    assert result.path == "Origin Page Clip.mp4"
    info = await played(mv, result.path, settings)
    assert info.tags["title"] == "Origin Page Clip"  # metadata embedded by default


async def test_audio_only_with_format_and_bitrate(
    mv: Client, origin: Origin, settings: Settings
) -> None:
    options = DownloadOptions(audio_only=True, audio_format="opus", audio_bitrate="128k")
    [result] = await mv.download(origin.url("/video.mp4"), options)
    assert result.path is not None and result.path.endswith(".opus")
    info = await played(mv, result.path, settings)
    assert not info.has_video and [s.codec_name for s in info.of_type("audio")] == ["opus"]


async def test_audio_file_kept_as_is(mv: Client, origin: Origin, settings: Settings) -> None:
    [result] = await mv.download(origin.url("/audio.m4a"), DownloadOptions(format="audio"))
    assert result.path is not None and result.path.endswith(".m4a")
    assert (await played(mv, result.path, settings)).has_audio


async def test_subtitles_and_thumbnail_beside(
    mv: Client, origin: Origin, settings: Settings
) -> None:
    options = DownloadOptions(
        subtitles=("en", "de"), subtitle_format="srt", thumbnail=True, template="clip.{ext}"
    )
    [result] = await mv.download(origin.url("/html5.html"), options)
    assert result.path == "clip.mp4"
    assert sorted(result.extra_paths) == ["clip.de.srt", "clip.en.srt", "clip.jpg"]
    root = mv.storage.local_path("clip.mp4").parent  # type: ignore[union-attr]
    assert "Hallo vom Test-Ursprung" in (root / "clip.de.srt").read_text()
    assert (root / "clip.jpg").read_bytes()[:2] == b"\xff\xd8"


async def test_subtitles_and_thumbnail_embedded(
    mv: Client, origin: Origin, settings: Settings
) -> None:
    options = DownloadOptions(subtitles=("all",), embed_subtitles=True, embed_thumbnail=True)
    [result] = await mv.download(origin.url("/html5.html"), options)
    assert result.extra_paths == ()
    info = await played(mv, result.path, settings)
    assert sorted(s.language or "" for s in info.of_type("subtitle")) == ["eng", "ger"]
    assert any(s.attached_pic for s in info.streams)


async def test_feed_with_playlist_items(mv: Client, origin: Origin, settings: Settings) -> None:
    options = DownloadOptions(
        playlist_items="1-2,12", template="{playlist}/{playlist_index:02d} {title}.{ext}"
    )
    results = await mv.download(origin.url("/feed.rss"), options)
    assert [r.path for r in results] == [
        "Test Channel/01 Clip 12.mp4",
        "Test Channel/02 Clip 11.mp4",
        "Test Channel/12 Clip 01.mp4",
    ]
    assert [r.item_id for r in results] == ["clip-12", "clip-11", "clip-01"]
    for result in results:
        assert (await played(mv, result.path, settings)).duration == pytest.approx(1.0, abs=0.2)
    assert origin.requests["/feed/clip05.mp4"] == 0


async def test_entries_and_download_entry(mv: Client, origin: Origin) -> None:
    entries = [entry async for entry, _ in mv.entries(origin.url("/feed.rss"))]
    assert len(entries) == 12 and isinstance(entries[0], CollectionEntry)
    result = await mv.download_entry(entries[3], DownloadOptions(template="{id}.{ext}"))
    assert result.path == "clip-09.mp4" and result.title == "Clip 09"


async def test_collection_entry_failures_do_not_stop_the_rest(mv: Client, origin: Origin) -> None:
    origin.faults["/feed/clip11.mp4"] = __import__(
        "tests.support.origin", fromlist=["Fault"]
    ).Fault(status=[404] * 20)
    results = await mv.download(origin.url("/feed.rss"), DownloadOptions(playlist_items="1-3"))
    assert [r.status for r in results] == [
        ItemStatus.COMPLETED,
        ItemStatus.FAILED,
        ItemStatus.COMPLETED,
    ]
    assert results[1].reason == "http_error" and results[1].item_id == "clip-11"


async def test_drm_item_is_reported_skipped(mv: Client, origin: Origin) -> None:
    [result] = await mv.download(origin.url("/drm/master.m3u8"))
    assert result.status is ItemStatus.SKIPPED and result.reason == "drm_protected"


async def test_cancel_then_resume(
    mv: Client, origin: Origin, settings: Settings, tmp_path: Path
) -> None:
    size = (origin.root / "video.mp4").stat().st_size
    origin.throttle["/video.mp4"] = size // 3  # ~3 s for the whole file
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(1.0, cancel.set)
    options = DownloadOptions(connections=1)
    with pytest.raises(errors.CancelledError_):
        await mv.download(origin.url("/video.mp4"), options, cancel=cancel)
    work = tmp_path / "out" / ".mediavault"
    assert any(p.name.endswith(".part") for p in work.rglob("*"))  # resumable state kept
    origin.throttle.clear()
    origin.reset_stats()
    [result] = await mv.download(origin.url("/video.mp4"), options)
    assert result.status is ItemStatus.COMPLETED
    ranged = [
        rng for method, path, rng in origin.log if path == "/video.mp4" and rng and method == "GET"
    ]
    assert ranged and all(not rng.startswith("bytes=0-") for rng in ranged)  # only the rest
    assert (await played(mv, result.path, settings)).duration == pytest.approx(3.0, abs=0.2)


def test_playlist_items() -> None:
    wanted = PlaylistItems("1-3,7,10-")
    assert [i for i in range(1, 13) if i in wanted] == [1, 2, 3, 7, 10, 11, 12]
    assert not wanted.exhausted(100)
    closed = PlaylistItems("2-4")
    assert closed.exhausted(4) and not closed.exhausted(3)
    assert all(i in PlaylistItems(None) for i in range(1, 5))
    for bad in ("a", "3-1", "0", "1--2"):
        with pytest.raises(errors.InputError):
            PlaylistItems(bad)


async def test_client_outside_context_is_an_error(settings: Settings, tmp_path: Path) -> None:
    client = Client(settings, output_dir=tmp_path)
    with pytest.raises(errors.MediavaultError, match="async with"):
        await client.info("http://127.0.0.1/x.mp4")
