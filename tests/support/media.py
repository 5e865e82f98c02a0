"""Small test media generated with ffmpeg, once, into a shared cache directory.

``ensure_media()`` returns a ``MediaSet`` describing a directory with:

- ``video.mp4``: 3 s, 320x180 H.264 + AAC (the direct-file case)
- ``audio.m4a``: 3 s AAC only
- ``thumb.jpg``: a 160x90 JPEG; ``subs.en.vtt`` / ``subs.de.vtt``: WebVTT subtitles
- ``hls/master.m3u8``: a master playlist with two qualities (180p, 360p), each a media
  playlist of 1 s MPEG-TS segments under ``hls/<quality>/``
- ``dash/manifest.mpd``: DASH with separate video and audio adaptation sets
- ``drm/manifest.mpd`` (Widevine ``ContentProtection``) and ``drm/master.m3u8``
  (SAMPLE-AES key): DRM-flagged manifests whose segments must never be fetched
- ``feed/clipNN.mp4``: 12 one-second clips, all different content, for the RSS feed

Pages that must carry absolute URLs (the origin's port is only known at run time) are
served by dynamic routes: ``install_routes(origin)`` adds ``/page.html`` (``og:video``),
``/html5.html`` (``<video>`` with poster and subtitle tracks), ``/nomedia.html`` and
``/feed.rss`` (12 items linking the clips, newest first).

The cache lives in ``$MEDIAVAULT_TEST_MEDIA`` or the system temp dir, keyed by
``VERSION``; concurrent test sessions share it under a file lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.origin import Origin, OriginRequest

VERSION = "4"
DURATION = 3.0
CLIP_DURATION = 1.0
FEED_SIZE = 12
HLS_QUALITIES = {"180p": (320, 180, 300_000), "360p": (640, 360, 700_000)}


@dataclass(frozen=True)
class MediaSet:
    root: Path
    duration: float = DURATION
    clip_duration: float = CLIP_DURATION
    feed_size: int = FEED_SIZE

    def path(self, name: str) -> Path:
        return self.root / name


def _ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, timeout=120)


def _lavfi_video(size: str, duration: float, pattern: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-i", f"{pattern}=size={size}:rate=25:duration={duration}"]


def _lavfi_audio(freq: int, duration: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=44100:duration={duration}"]


_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"]
_AAC = ["-c:a", "aac", "-b:a", "64k", "-ac", "2"]

_VTT = {
    "en": ["Hello from the test origin", "A second line", "Goodbye"],
    "de": ["Hallo vom Test-Ursprung", "Eine zweite Zeile", "Tschuess"],
}


def _write_vtt(path: Path, lines: list[str]) -> None:
    cues = [f"00:00:0{i}.000 --> 00:00:0{i}.900\n{text}\n" for i, text in enumerate(lines)]
    path.write_text("WEBVTT\n\n" + "\n".join(cues), encoding="utf-8")


def _make_hls(root: Path) -> None:
    hls = root / "hls"
    variants = []
    for name, (width, height, bandwidth) in HLS_QUALITIES.items():
        out = hls / name
        out.mkdir(parents=True)
        _ffmpeg(
            *_lavfi_video(f"{width}x{height}", DURATION),
            *_lavfi_audio(330, DURATION),
            *_X264,
            *_AAC,
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            str(out / "seg%03d.ts"),
            str(out / "index.m3u8"),
        )
        variants.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},"
            f'CODECS="avc1.42c01e,mp4a.40.2"\n{name}/index.m3u8'
        )
    (hls / "master.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n" + "\n".join(variants) + "\n")


def _make_dash(root: Path) -> None:
    dash = root / "dash"
    dash.mkdir()
    _ffmpeg(
        *_lavfi_video("320x180", DURATION),
        *_lavfi_audio(550, DURATION),
        "-map",
        "0:v",
        "-map",
        "1:a",
        *_X264,
        *_AAC,
        "-f",
        "dash",
        "-seg_duration",
        "1",
        "-use_template",
        "1",
        "-use_timeline",
        "0",
        "-adaptation_sets",
        "id=0,streams=v id=1,streams=a",
        str(dash / "manifest.mpd"),
    )


def _make_drm(root: Path) -> None:
    drm = root / "drm"
    drm.mkdir()
    for entry in (root / "dash").iterdir():
        if entry.suffix == ".m4s" or entry.name.startswith("init"):
            shutil.copy2(entry, drm / entry.name)
    manifest = (root / "dash" / "manifest.mpd").read_text()
    protection = (
        '<ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" '
        'value="Widevine"/>'
    )
    # ContentProtection goes right after each AdaptationSet's opening tag.
    manifest = re.sub(r"(<AdaptationSet\b[^>]*>)", lambda m: m.group(1) + protection, manifest)
    (drm / "manifest.mpd").write_text(manifest)
    key = (
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key-1",KEYFORMAT="com.apple.streamingkeydelivery"'
    )
    media = (root / "hls" / "180p" / "index.m3u8").read_text()
    media = media.replace("#EXT-X-TARGETDURATION", key + "\n#EXT-X-TARGETDURATION", 1)
    media = media.replace("seg", "../hls/180p/seg")
    (drm / "index.m3u8").write_text(media)
    (drm / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:5\n"
        '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key-1",'
        'KEYFORMAT="com.apple.streamingkeydelivery"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.42c01e,mp4a.40.2"\n'
        "index.m3u8\n"
    )


def _make_feed(root: Path) -> None:
    feed = root / "feed"
    feed.mkdir()
    for n in range(1, FEED_SIZE + 1):
        _ffmpeg(
            *_lavfi_video("160x90", CLIP_DURATION, pattern="testsrc"),
            *_lavfi_audio(200 + 40 * n, CLIP_DURATION),
            *_X264,
            *_AAC,
            "-movflags",
            "+faststart",
            str(feed / f"clip{n:02d}.mp4"),
        )


def _generate(root: Path) -> None:
    _ffmpeg(
        *_lavfi_video("320x180", DURATION),
        *_lavfi_audio(440, DURATION),
        *_X264,
        *_AAC,
        "-movflags",
        "+faststart",
        str(root / "video.mp4"),
    )
    _ffmpeg(*_lavfi_audio(660, DURATION), *_AAC, "-vn", str(root / "audio.m4a"))
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=1:duration=1",
        "-frames:v",
        "1",
        str(root / "thumb.jpg"),
    )
    for lang, lines in _VTT.items():
        _write_vtt(root / f"subs.{lang}.vtt", lines)
    _make_hls(root)
    _make_dash(root)
    _make_drm(root)
    _make_feed(root)
    (root / "notes.txt").write_text("not media\n")


def cache_dir() -> Path:
    base = os.environ.get("MEDIAVAULT_TEST_MEDIA") or tempfile.gettempdir()
    return Path(base) / f"mediavault-test-media-v{VERSION}"


def ensure_media() -> MediaSet:
    """The generated media set (built on first use, then reused)."""
    target = cache_dir()
    lock_path = target.with_name(target.name + ".lock")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            if target.exists():
                shutil.rmtree(target)
            staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
            try:
                _generate(staging)
                (staging / ".complete").write_text(VERSION)
                staging.rename(target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return MediaSet(root=target)


# dynamic pages -------------------------------------------------------------------------


def _html(body: str, head: str = "", title: str = "Test page") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body>{body}</body></html>\n"
    ).encode()


def _page(origin: Origin) -> bytes:
    base = origin.base_url
    head = (
        f'<meta property="og:title" content="Origin Page Clip">'
        f'<meta property="og:video" content="{base}/video.mp4">'
        f'<meta property="og:video:type" content="video/mp4">'
        f'<meta property="og:image" content="{base}/thumb.jpg">'
    )
    return _html("<p>A page with a video.</p>", head, title="Origin Page Clip")


def _html5() -> bytes:
    body = (
        '<video controls poster="thumb.jpg">'
        '<source src="video.mp4" type="video/mp4">'
        '<track kind="subtitles" srclang="en" label="English" src="subs.en.vtt">'
        '<track kind="subtitles" srclang="de" label="Deutsch" src="subs.de.vtt">'
        "</video>"
    )
    return _html(body, title="HTML5 Clip")


def feed_xml(base_url: str, count: int = FEED_SIZE) -> bytes:
    """An RSS 2.0 feed of ``count`` items, newest first, each enclosing one clip."""
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    items = []
    for n in range(count, 0, -1):
        date = format_datetime(start + timedelta(days=n))
        items.append(
            f'<item><title>Clip {n:02d}</title><guid isPermaLink="false">clip-{n:02d}</guid>'
            f"<link>{base_url}/feed/clip{n:02d}.html</link>"
            f"<pubDate>{date}</pubDate>"
            f'<enclosure url="{base_url}/feed/clip{n:02d}.mp4" type="video/mp4" length="0"/>'
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Test Channel</title><link>{base_url}/</link>"
        "<description>Twelve clips</description>" + "".join(items) + "</channel></rss>\n"
    ).encode()


def install_routes(origin: Origin) -> None:
    """Register the pages whose content depends on the origin's address."""

    def page(_: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _page(origin)

    def html5(_: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _html5()

    def nomedia(_: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        body = _html("<h1>Nothing to see</h1><p>No media on this page.</p>", title="No media")
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body

    def feed(_: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/rss+xml"}, feed_xml(origin.base_url)

    origin.routes["/page.html"] = page
    origin.routes["/html5.html"] = html5
    origin.routes["/nomedia.html"] = nomedia
    origin.routes["/feed.rss"] = feed
