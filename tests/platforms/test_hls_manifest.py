"""Formats from HLS playlists, listed (and named) as yt-dlp's generic extractor lists them."""

from __future__ import annotations

from mediavault.models import Protocol
from mediavault.platforms._hls_manifest import parse_hls

MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Deutsch",LANGUAGE="de",URI="audio/de.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aud",FRAME-RATE=25
v360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"
https://cdn.example.com/v720.m3u8?token=1
"""


def test_a_master_playlist_lists_variants_and_audio_renditions() -> None:
    formats = parse_hls(MASTER, "https://example.com/live/master.m3u8").formats
    by_id = {f.format_id: f for f in formats}
    assert list(by_id) == ["800", "2000", "aud-English", "aud-Deutsch"]
    low, high = by_id["800"], by_id["2000"]
    assert low.url == "https://example.com/live/v360.m3u8"
    assert high.url == "https://cdn.example.com/v720.m3u8?token=1"
    assert (low.width, low.height, low.fps, low.tbr) == (640, 360, 25.0, 800.0)
    assert (high.height, high.tbr, high.vcodec) == (720, 2000.0, "avc1.64001f")
    # the audio is in the renditions: the variants are video-only, so selection merges
    assert low.acodec == "none" and low.is_video_only
    english = by_id["aud-English"]
    assert english.is_audio_only and english.language == "en" and english.acodec == "mp4a.40.2"
    assert english.url == "https://example.com/live/audio/en.m3u8"
    assert all(f.protocol is Protocol.HLS and f.ext == "mp4" and not f.drm for f in formats)


def test_variants_with_muxed_audio_and_an_audio_only_variant() -> None:
    text = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.5"
audio.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
v.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360
v-copy.m3u8
"""
    formats = parse_hls(text, "http://h/m.m3u8").formats
    assert [f.format_id for f in formats] == ["64", "1000-0", "1000-1"]
    assert formats[0].is_audio_only
    assert formats[1].has_video and formats[1].has_audio
    assert formats[2].vcodec is None and formats[2].acodec is None and formats[2].has_video


def test_a_media_playlist_is_one_format_with_its_duration() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n"
    manifest = parse_hls(text, "http://h/x/index.m3u8")
    (fmt,) = manifest.formats
    assert (fmt.format_id, fmt.url, fmt.protocol) == ("0", "http://h/x/index.m3u8", Protocol.HLS)
    assert manifest.duration == 6.5


def test_a_fairplay_session_key_marks_every_format_drm() -> None:
    text = (
        '#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://k",'
        'KEYFORMAT="com.apple.streamingkeydelivery"\n' + MASTER.removeprefix("#EXTM3U\n")
    )
    formats = parse_hls(text, "https://example.com/master.m3u8").formats
    assert formats and all(f.drm for f in formats)


def test_an_aes128_session_key_is_not_drm() -> None:
    text = '#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI="k.bin"\n' + MASTER.removeprefix("#EXTM3U\n")
    assert not any(f.drm for f in parse_hls(text, "https://example.com/master.m3u8").formats)
