"""HLS playlists as other servers and packagers write them, through the direct adapter
(and on through ``fetch()``): what it lists, and that what it lists downloads."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.models import MediaItem, Protocol
from mediavault.net.session import HttpSession
from mediavault.platforms._hls_manifest import parse_hls
from mediavault.platforms.base import AdapterContext
from mediavault.platforms.direct import DirectFileAdapter
from mediavault.platforms.ytdlp import YtdlpAdapter
from tests.support.media import MediaSet
from tests.support.origin import Origin, OriginRequest


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AdapterContext]:
    async with HttpSession(settings) as session:
        yield AdapterContext(settings=settings, session=session)


def streams(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,height:format=duration",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    info = json.loads(out)
    return [{**s, "duration": round(float(info["format"]["duration"]))} for s in info["streams"]]


# -- parsing ------------------------------------------------------------------------------

def test_float_integer_tags_do_not_break_a_media_playlist() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3.0\n#EXT-X-TARGETDURATION:4.5\n#EXT-X-MEDIA-SEQUENCE:7.0\n"
        "#EXTINF:4.0,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n"
    )
    manifest = parse_hls(text, "http://h/x/index.m3u8")
    assert [f.url for f in manifest.formats] == ["http://h/x/index.m3u8"]
    assert manifest.duration == 6.5


def test_a_playlist_the_parser_cannot_read_is_an_extraction_error() -> None:
    with pytest.raises(errors.ExtractionError, match="malformed HLS playlist"):
        parse_hls("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:first\n#EXTINF:1,\na.ts\n", "http://h/i.m3u8")


def test_variant_and_rendition_urls_keep_empty_path_segments() -> None:
    text = (
        '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio//en.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO="a"\nv//1/index.m3u8?t=1\n'
    )
    formats = parse_hls(text, "https://cdn.example/vod//42/master.m3u8").formats
    assert [f.url for f in formats] == [
        "https://cdn.example/vod//42/v//1/index.m3u8?t=1",
        "https://cdn.example/vod//42/audio//en.m3u8",
    ]


def test_iframe_playlists_are_never_formats() -> None:
    text = (
        "#EXTM3U\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000000,RESOLUTION=1920x1080,URI="if/hi.m3u8"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nv/index.m3u8\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=80000,URI="if/lo.m3u8"\n'
    )
    formats = parse_hls(text, "http://h/m.m3u8").formats
    assert [(f.url, f.height) for f in formats] == [("http://h/v/index.m3u8", 360)]


# -- the adapter, then the download -------------------------------------------------------

@pytest.fixture(scope="module")
def audio_rendition(media: MediaSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An audio-only HLS rendition (AAC in TS) of the 180p stream, made by ffmpeg."""
    out = tmp_path_factory.mktemp("audio")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-i", str(media.path("hls/180p/index.m3u8")), "-vn", "-c:a", "copy", "-f", "hls",
         "-hls_time", "1", "-hls_playlist_type", "vod",
         "-hls_segment_filename", str(out / "a%02d.ts"), str(out / "index.m3u8")],
        check=True, timeout=60,
    )
    return out


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=YES,'
    'URI="audio//en/index.m3u8"\n'
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=640x360,URI="../hls/360p/index.m3u8"\n'
    "#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,FRAME-RATE=25.000,"
    'CODECS="avc1.42c01e,mp4a.40.2",AUDIO="aac"\n../hls/180p/index.m3u8?token=1\n'
    "#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=650000,RESOLUTION=640x360,"
    'CODECS="avc1.42c01e,mp4a.40.2",AUDIO="aac"\n../hls/360p/index.m3u8?token=1\n'
)


@pytest.fixture
def packaged(origin: Origin, audio_rendition: Path) -> Iterator[Origin]:
    """``/watch.m3u8`` redirects to ``/show/master.m3u8``, served gzip-encoded with CRLF
    line ends and a BOM; its audio rendition lives under ``/show/audio//en/``."""
    body = gzip.compress(("\ufeff" + MASTER.replace("\n", "\r\n")).encode())

    def master(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/vnd.apple.mpegurl", "Content-Encoding": "gzip"}
        return 200, headers, body

    origin.routes["/watch.m3u8"] = lambda req: (302, {"Location": "/show/master.m3u8?s=1"}, b"")
    origin.routes["/show/master.m3u8"] = master
    for file in audio_rendition.iterdir():
        data = file.read_bytes()
        origin.routes[f"/show/audio//en/{file.name}"] = lambda req, data=data: (200, {}, data)
    yield origin


async def test_a_packaged_master_lists_real_formats_that_download(
    ctx: AdapterContext, packaged: Origin, tmp_path: Path
) -> None:
    item = await DirectFileAdapter(packaged.url("/watch.m3u8"), ctx).extract()
    assert isinstance(item, MediaItem) and item.kind == "video"
    show = packaged.url("/show")
    assert [(f.format_id, f.url) for f in item.formats] == [
        ("300", packaged.url("/hls/180p/index.m3u8?token=1")),
        ("650", packaged.url("/hls/360p/index.m3u8?token=1")),
        ("aac-English", f"{show}/audio//en/index.m3u8"),
    ]
    assert all(f.protocol is Protocol.HLS for f in item.formats)
    video, audio = item.formats[1], item.formats[2]
    assert (video.height, video.acodec) == (360, "none") and audio.is_audio_only

    await fetch(video, tmp_path / "v.mp4", session=ctx.session, settings=ctx.settings)
    await fetch(audio, tmp_path / "a.mp4", session=ctx.session, settings=ctx.settings)
    assert {"codec_type": "video", "height": 360, "duration": 3} in streams(tmp_path / "v.mp4")
    assert streams(tmp_path / "a.mp4") == [{"codec_type": "audio", "duration": 3}]


async def test_a_media_playlist_with_float_tags_is_listed(
    ctx: AdapterContext, origin: Origin, media: MediaSet
) -> None:
    text = media.path("hls/180p/index.m3u8").read_text()
    text = text.replace("#EXT-X-TARGETDURATION:1\n", "#EXT-X-TARGETDURATION:1.0\n")
    assert "#EXT-X-TARGETDURATION:1.0" in text
    origin.routes["/hls/180p/float.m3u8"] = lambda req: (200, {}, text.encode())
    item = await DirectFileAdapter(origin.url("/hls/180p/float.m3u8"), ctx).extract()
    assert isinstance(item, MediaItem) and item.extra == {"direct": True}
    assert item.duration == pytest.approx(3.0, abs=0.1)


async def test_a_playlist_we_cannot_parse_is_left_to_ytdlp(
    ctx: AdapterContext, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    class HandedOn(Exception):
        pass

    async def extract(self: YtdlpAdapter) -> MediaItem:
        raise HandedOn(self.url)

    monkeypatch.setattr(YtdlpAdapter, "extract", extract)
    body = b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:first\n#EXTINF:1,\na.ts\n"
    origin.routes["/odd.m3u8"] = lambda req: (200, {}, body)
    with pytest.raises(HandedOn) as info:
        await DirectFileAdapter(origin.url("/odd.m3u8"), ctx).extract()
    assert info.value.args == (origin.url("/odd.m3u8"),)
