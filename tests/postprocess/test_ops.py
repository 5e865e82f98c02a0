"""Each ffmpeg unit on real files, checked with ffprobe."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.models import AudioFormat, Format, MediaItem
from mediavault.postprocess import (
    convert_subtitle,
    embed_metadata,
    embed_subtitles,
    embed_thumbnail,
    extract_audio,
    has_own_metadata,
    merge,
    merge_container,
    metadata_for,
    probe,
    remux,
    run_ffmpeg,
    to_jpeg,
)
from tests.support.media import MediaSet


def copy(src: Path, dest_dir: Path) -> Path:
    dest = dest_dir / src.name
    shutil.copy2(src, dest)
    return dest


async def test_merge_video_and_audio(
    split_streams: tuple[Path, Path], tmp_path: Path, settings: Settings
) -> None:
    video, audio = split_streams
    out = await merge(video, audio, tmp_path / "merged.mp4", settings=settings)
    info = await probe(out, settings=settings)
    assert info.has_video and info.has_audio
    assert info.duration == pytest.approx(3.0, abs=0.15)
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize(
    ("video", "audio", "requested", "expected"),
    [
        ("mp4", "m4a", None, "mp4"),
        ("webm", "webm", None, "webm"),
        ("mp4", "webm", None, "mkv"),
        ("mp4", "m4a", "mkv", "mkv"),
    ],
)
def test_merge_container(video: str, audio: str, requested: str | None, expected: str) -> None:
    assert merge_container(video, audio, requested) == expected


async def test_remux_to_mkv(media: MediaSet, tmp_path: Path, settings: Settings) -> None:
    out = await remux(media.path("video.mp4"), tmp_path / "clip.mkv", settings=settings)
    info = await probe(out, settings=settings)
    assert "matroska" in info.format_name
    assert info.has_video and info.has_audio


@pytest.mark.parametrize(
    ("audio_format", "bitrate", "codec", "container"),
    [
        (AudioFormat.MP3, "128k", "mp3", "mp3"),
        (AudioFormat.M4A, None, "aac", "mov,mp4,m4a,3gp,3g2,mj2"),
        (AudioFormat.AAC, "96k", "aac", "aac"),
        (AudioFormat.OPUS, "160k", "opus", "ogg"),
        (AudioFormat.FLAC, None, "flac", "flac"),
        (AudioFormat.WAV, None, "pcm_s16le", "wav"),
    ],
)
async def test_extract_audio(
    media: MediaSet,
    tmp_path: Path,
    settings: Settings,
    audio_format: AudioFormat,
    bitrate: str | None,
    codec: str,
    container: str,
) -> None:
    out = await extract_audio(
        media.path("video.mp4"),
        tmp_path / "track",
        audio_format=audio_format,
        bitrate=bitrate,
        settings=settings,
    )
    assert out.name == f"track.{audio_format.value}"
    info = await probe(out, settings=settings)
    assert not info.has_video
    assert [s.codec_name for s in info.of_type("audio")] == [codec]
    assert info.format_name == container
    assert info.duration == pytest.approx(3.0, abs=0.2)


async def test_extract_audio_refuses_bad_bitrate(
    media: MediaSet, tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(errors.InputError):
        await extract_audio(
            media.path("video.mp4"),
            tmp_path / "t",
            audio_format=AudioFormat.MP3,
            bitrate="64k",
            settings=settings,
        )


async def test_extract_audio_needs_an_audio_stream(
    split_streams: tuple[Path, Path], tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(errors.PostProcessError, match="no audio"):
        await extract_audio(
            split_streams[0], tmp_path / "t", audio_format=AudioFormat.MP3, settings=settings
        )


async def test_subtitle_conversions(media: MediaSet, tmp_path: Path, settings: Settings) -> None:
    vtt = copy(media.path("subs.en.vtt"), tmp_path)
    srt = await convert_subtitle(vtt, "srt", settings=settings)
    assert srt.suffix == ".srt"
    text = srt.read_text()
    assert "00:00:00,000 --> 00:00:00,900" in text and "Hello from the test origin" in text
    ass = await convert_subtitle(srt, "ass", settings=settings)
    assert "[Script Info]" in ass.read_text() and "A second line" in ass.read_text()
    back = await convert_subtitle(ass, "vtt", settings=settings)
    assert back.read_text().startswith("WEBVTT") and "Goodbye" in back.read_text()
    assert await convert_subtitle(vtt, "vtt", settings=settings) == vtt


async def test_embed_subtitles_into_mp4_and_mkv(
    media: MediaSet, tmp_path: Path, settings: Settings
) -> None:
    tracks = [(media.path("subs.en.vtt"), "eng"), (media.path("subs.de.vtt"), "ger")]
    for ext, codec in (("mp4", "mov_text"), ("mkv", "webvtt")):
        out = await embed_subtitles(
            media.path("video.mp4"), tracks, tmp_path / f"subbed.{ext}", settings=settings
        )
        subs = (await probe(out, settings=settings)).of_type("subtitle")
        assert [s.codec_name for s in subs] == [codec, codec]
        assert [s.language for s in subs] == ["eng", "ger"]


async def test_embed_thumbnail(media: MediaSet, tmp_path: Path, settings: Settings) -> None:
    thumb = media.path("thumb.jpg")
    mp4 = await embed_thumbnail(
        media.path("video.mp4"), thumb, tmp_path / "cover.mp4", settings=settings
    )
    info = await probe(mp4, settings=settings)
    assert any(s.attached_pic for s in info.streams)
    assert len(info.of_type("video")) == 1  # the picture is not a second video
    mp3 = await extract_audio(
        media.path("video.mp4"), tmp_path / "a", audio_format=AudioFormat.MP3, settings=settings
    )
    tagged = await embed_thumbnail(mp3, thumb, tmp_path / "cover.mp3", settings=settings)
    assert any(s.attached_pic for s in (await probe(tagged, settings=settings)).streams)
    with pytest.raises(errors.PostProcessError):
        await embed_thumbnail(
            media.path("video.mp4"), thumb, tmp_path / "cover.wav", settings=settings
        )


async def test_to_jpeg(media: MediaSet, tmp_path: Path, settings: Settings) -> None:
    png = tmp_path / "t.png"
    await run_ffmpeg(["-i", str(media.path("thumb.jpg"))], png, settings=settings)
    jpg = await to_jpeg(png, settings=settings)
    assert jpg.suffix == ".jpg" and jpg.read_bytes()[:2] == b"\xff\xd8"


async def test_embed_metadata(media: MediaSet, tmp_path: Path, settings: Settings) -> None:
    item = MediaItem(
        platform="test",
        id="x1",
        title="A Title",
        url="http://127.0.0.1/x1",
        uploader="Someone",
        upload_date="20240102",
        formats=(Format(format_id="0", url="http://127.0.0.1/x1.mp4"),),
    )
    tags = metadata_for(item)
    assert tags["date"] == "2024-01-02"
    out = await embed_metadata(
        media.path("video.mp4"), tags, tmp_path / "tagged.mp4", settings=settings
    )
    info = await probe(out, settings=settings)
    assert info.tags["title"] == "A Title"
    assert info.tags["artist"] == "Someone"
    assert info.has_video and info.has_audio


async def test_failure_leaves_no_output(tmp_path: Path, settings: Settings) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not media at all")
    with pytest.raises(errors.PostProcessError):
        await remux(bad, tmp_path / "out.mkv", settings=settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]
    with pytest.raises(errors.PostProcessError):
        await probe(bad, settings=settings)


async def test_missing_ffmpeg(media: MediaSet, tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    broken = make_settings(ffmpeg=str(tmp_path / "no-ffmpeg"))
    with pytest.raises(errors.FFmpegMissingError):
        await remux(media.path("video.mp4"), tmp_path / "x.mkv", settings=broken)


async def test_cancel_kills_the_process_group(tmp_path: Path, settings: Settings) -> None:
    cancel = asyncio.Event()
    endless = ["-re", "-f", "lavfi", "-i", "sine=frequency=300", "-c:a", "pcm_s16le", "-f", "wav"]
    task = asyncio.create_task(
        run_ffmpeg(endless, tmp_path / "endless.wav", settings=settings, cancel=cancel)
    )
    await asyncio.sleep(0.5)
    assert not task.done()
    started = time.monotonic()
    cancel.set()
    with pytest.raises(errors.CancelledError_):
        await task
    assert time.monotonic() - started < 3
    assert list(tmp_path.iterdir()) == []


def test_only_items_with_their_own_metadata_are_tagged() -> None:
    fmt = Format(format_id="mp4", url="http://127.0.0.1/v.mp4")
    bare = MediaItem(platform="generic", id="v", title="v", url=fmt.url, formats=(fmt,))
    assert not has_own_metadata(bare)  # a file named v.mp4 says nothing new about itself
    assert has_own_metadata(bare.model_copy(update={"title": "A real title"}))
    assert has_own_metadata(bare.model_copy(update={"uploader": "Someone"}))
    assert has_own_metadata(bare.model_copy(update={"platform": "youtube"}))
