"""HLS as other origins and packagers write it, through the whole ``fetch()`` path.

Real ffmpeg-made media from the loopback origin; playlists rewritten the ways real
servers write them (line endings, BOM, float tags, key rotation, signed URLs, byte ranges
without offsets, discontinuities, redirects, I-frame playlists...). Every result is
checked by its decoded frames (or bytes / requests), never just "it did not raise".
"""

from __future__ import annotations

import gzip
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.errors import FormatNotAvailableError, HTTPStatusError
from mediavault.models import Format, Protocol
from mediavault.net.session import HttpSession
from tests.download.media import video_packets
from tests.support.origin import Fault, Origin, OriginRequest

Packets = list[tuple[str, str]]


def hls(url: str, **kw: object) -> Format:
    return Format(format_id="hls", url=url, protocol=Protocol.HLS, **kw)  # type: ignore[arg-type]


def serve(
    origin: Origin, path: str, body: bytes | str, *, headers: dict[str, str] | None = None,
    query: str | None = None, seen: list[str] | None = None,
) -> None:
    """A route answering ``body``; with ``query``, only that exact query (403 otherwise)."""
    data = body.encode() if isinstance(body, str) else body

    def handler(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        if seen is not None:
            seen.append(req.query)
        if query is not None and req.query != query:
            return 403, {}, b"bad signature"
        return 200, dict(headers or {}), data

    origin.routes[path] = handler


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    return float(out)


def encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


@pytest.fixture
def source_packets(media_root: Path) -> Packets:
    return video_packets(media_root / "source.ts")


@pytest.fixture
def plain_text(media_root: Path) -> str:
    return (media_root / "plain" / "index.m3u8").read_text()


@pytest.fixture
def segments(media_root: Path) -> list[Path]:
    return sorted((media_root / "plain").glob("seg*.ts"))


async def get(
    origin: Origin, path: str, out: Path, session: HttpSession, settings: Settings, **kw: object
) -> Path:
    ext = out.suffix.lstrip(".")
    result = await fetch(hls(origin.url(path), ext=ext, **kw), out, session=session,
                         settings=settings)
    assert result.path == out and result.size == out.stat().st_size
    return out


# -- playlist text ------------------------------------------------------------------------

def _crlf_bom(text: str) -> str:
    return "\ufeff" + text.replace("\n", "\r\n")


def _comments(text: str) -> str:
    stamp = "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000+00:00"
    return text.replace("#EXTINF", f"\n# packager comment\n\n{stamp}\n#EXTINF")


def _float_tags(text: str) -> str:
    # seen from real packagers: decimals where RFC 8216 wants integers
    text = re.sub(r"#EXT-X-TARGETDURATION:\d+", "#EXT-X-TARGETDURATION:0.5", text)
    text = text.replace("#EXT-X-VERSION:3", "#EXT-X-VERSION:3.0")
    return text.replace("#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-MEDIA-SEQUENCE:0.0")


@pytest.mark.parametrize("rewrite", [_crlf_bom, _comments, _float_tags], ids=lambda f: f.__name__)
async def test_playlist_text_as_packagers_write_it(
    rewrite: Callable[[str], str], media_origin: Origin, plain_text: str, out_dir: Path,
    session: HttpSession, settings: Settings, source_packets: Packets,
) -> None:
    serve(media_origin, "/plain/packaged.m3u8", rewrite(plain_text))
    out = await get(media_origin, "/plain/packaged.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


async def test_gzip_encoded_playlists(
    media_origin: Origin, plain_text: str, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    """Servers gzip playlists even when asked for identity (nginx gzip_types)."""
    gz = {"Content-Encoding": "gzip", "Content-Type": "application/vnd.apple.mpegurl"}
    master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nplain/gz.m3u8\n"
    serve(media_origin, "/gz-master.m3u8", gzip.compress(master.encode()), headers=gz)
    serve(media_origin, "/plain/gz.m3u8", gzip.compress(plain_text.encode()), headers=gz)
    out = await get(media_origin, "/gz-master.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


async def test_redirected_playlist_resolves_segments_against_the_final_url(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    """The master 302s to a CDN path; its variant (relative) and the variant's segments
    (relative) resolve against where the redirects ended, not the URL asked for."""
    media_origin.routes["/watch/master.m3u8"] = lambda req: (
        302, {"Location": "/edge/master.m3u8?token=abc"}, b"")
    serve(media_origin, "/edge/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")
    media_origin.routes["/edge/v.m3u8"] = lambda req: (
        301, {"Location": media_origin.url("/plain/index.m3u8")}, b"")
    out = await get(media_origin, "/watch/master.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/plain/seg000.ts"] == 1
    assert media_origin.requests["/watch/seg000.ts"] == media_origin.requests["/edge/seg000.ts"] == 0


# -- AES-128 ------------------------------------------------------------------------------

KEY_A, KEY_B = bytes(range(100, 116)), bytes(range(200, 216))
IV_A = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.mark.parametrize("iv_text", [
    "0x00112233445566778899aabbccddeeff",  # lowercase hex
    "0X00112233445566778899AABBCCDDEEFF",  # RFC 8216 allows 0X too
    "00112233445566778899aabbccddeeff",  # no prefix at all: seen in the wild
])
async def test_key_rotation_then_method_none(
    iv_text: str, media_origin: Origin, segments: list[Path], out_dir: Path,
    session: HttpSession, settings: Settings, source_packets: Packets,
) -> None:
    """Segments 0-7 under key A (explicit IV), 8-15 under key B (implicit IV: the media
    sequence number, which starts at 100), 16-23 in the clear after METHOD=NONE. Key URIs
    are relative with dot segments and signed queries that must reach the key server."""
    sequence = 100
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1",
             f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    for index, seg in enumerate(segments):
        data = seg.read_bytes()
        if index == 0:
            lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="keys/./x/../a.bin?tok=1&s=a%2Fb",IV={iv_text}')
        elif index == 8:
            lines.append('#EXT-X-KEY:METHOD=AES-128,URI="/rot/keys/b.bin?tok=2"')
        elif index == 16:
            lines.append("#EXT-X-KEY:METHOD=NONE")
        if index < 8:
            data = encrypt(data, KEY_A, IV_A)
        elif index < 16:
            data = encrypt(data, KEY_B, (sequence + index).to_bytes(16, "big"))
        serve(media_origin, f"/rot/{seg.name}", data)
        lines += ["#EXTINF:0.5,", seg.name]
    lines.append("#EXT-X-ENDLIST")
    serve(media_origin, "/rot/index.m3u8", "\n".join(lines) + "\n")
    serve(media_origin, "/rot/keys/a.bin", KEY_A, query="tok=1&s=a%2Fb")
    serve(media_origin, "/rot/keys/b.bin", KEY_B, query="tok=2")
    out = await get(media_origin, "/rot/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/rot/keys/a.bin"] == media_origin.requests["/rot/keys/b.bin"] == 1


async def test_a_key_per_segment_is_fetched_concurrently(
    media_origin: Origin, segments: list[Path], out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    """Some origins rotate the key every segment: 24 keys asked for one after the other
    would cost 24 round trips before the first byte of video."""
    import threading

    lock = threading.Lock()
    in_flight, most = 0, 0
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:40"]
    for index, seg in enumerate(segments):
        key = bytes([index]) * 16

        def handler(req: OriginRequest, key: bytes = key) -> tuple[int, dict[str, str], bytes]:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            time.sleep(0.2)
            with lock:
                in_flight -= 1
            return 200, {}, key

        media_origin.routes[f"/perkey/k{index}.bin"] = handler
        serve(media_origin, f"/perkey/{seg.name}",
              encrypt(seg.read_bytes(), key, (40 + index).to_bytes(16, "big")))
        lines += [f'#EXT-X-KEY:METHOD=AES-128,URI="k{index}.bin"', "#EXTINF:0.5,", seg.name]
    serve(media_origin, "/perkey/index.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, "/perkey/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert all(media_origin.requests[f"/perkey/k{i}.bin"] == 1 for i in range(len(segments)))
    assert most >= 4, f"keys fetched {most} at a time"


async def test_a_key_inlined_as_a_data_uri(
    media_origin: Origin, segments: list[Path], out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    import base64

    inline = "data:text/plain;base64," + base64.b64encode(KEY_A).decode()
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", f'#EXT-X-KEY:METHOD=AES-128,URI="{inline}"']
    for index, seg in enumerate(segments):
        serve(media_origin, f"/inline/{seg.name}",
              encrypt(seg.read_bytes(), KEY_A, index.to_bytes(16, "big")))
        lines += ["#EXTINF:0.5,", seg.name]
    serve(media_origin, "/inline/index.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, "/inline/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


@pytest.mark.parametrize("init_encrypted", [True, False], ids=["init-encrypted", "init-clear"])
async def test_aes128_fmp4_with_the_key_declared_before_the_map(
    init_encrypted: bool, media_origin: Origin, media_root: Path, out_dir: Path,
    session: HttpSession, settings: Settings, source_packets: Packets,
) -> None:
    """RFC 8216 4.3.2.5: an EXT-X-MAP after an AES-128 EXT-X-KEY declares an init section
    encrypted with that key (and its IV). Some packagers keep the init clear in that same
    layout: an init that already is MP4 is taken as it is."""
    iv = bytes.fromhex("0f0e0d0c0b0a09080706050403020100")
    init = (media_root / "dash" / "init.mp4").read_bytes()
    serve(media_origin, "/cenc/init.mp4", encrypt(init, KEY_A, iv) if init_encrypted else init)
    serve(media_origin, "/cenc/k.bin", KEY_A)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1",
             f'#EXT-X-KEY:METHOD=AES-128,URI="k.bin",IV=0x{iv.hex()}', '#EXT-X-MAP:URI="init.mp4"']
    for seg in sorted((media_root / "dash").glob("seg*.m4s")):
        serve(media_origin, f"/cenc/{seg.name}", encrypt(seg.read_bytes(), KEY_A, iv))
        lines += ["#EXTINF:0.5,", seg.name]
    serve(media_origin, "/cenc/index.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, "/cenc/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/cenc/k.bin"] == 1


async def test_an_init_declared_before_the_key_stays_clear(
    media_origin: Origin, media_root: Path, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    init = (media_root / "dash" / "init.mp4").read_bytes()
    serve(media_origin, "/mapfirst/init.mp4", init)
    serve(media_origin, "/mapfirst/k.bin", KEY_B)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:3",
             '#EXT-X-MAP:URI="init.mp4"', '#EXT-X-KEY:METHOD=AES-128,URI="k.bin"']
    for index, seg in enumerate(sorted((media_root / "dash").glob("seg*.m4s"))):
        data = encrypt(seg.read_bytes(), KEY_B, (3 + index).to_bytes(16, "big"))
        serve(media_origin, f"/mapfirst/{seg.name}", data)
        lines += ["#EXTINF:0.5,", seg.name]
    serve(media_origin, "/mapfirst/index.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, "/mapfirst/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


# -- segment URIs -------------------------------------------------------------------------

async def test_signed_segment_urls_on_another_host_keep_their_query(
    media_origin: Origin, plain_text: str, segments: list[Path], out_dir: Path,
    session: HttpSession, settings: Settings, source_packets: Packets,
) -> None:
    signed = "Expires=1700000000&Signature=Zm9v~YmFy_-&Key-Pair-Id=K2JCJMDEHXQW5F"
    cdn = f"http://localhost:{media_origin.port}/signed"  # another origin than 127.0.0.1
    seen: list[str] = []
    for seg in segments:
        serve(media_origin, f"/signed/{seg.name}", seg.read_bytes(), query=signed, seen=seen)
    text = re.sub(r"^(seg\d+\.ts)$", rf"{cdn}/\1?{signed}", plain_text, flags=re.MULTILINE)
    serve(media_origin, "/app/index.m3u8", text)
    out = await get(media_origin, "/app/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert seen == [signed] * len(segments)


async def test_segments_sent_gzip_encoded_although_identity_was_asked(
    media_origin: Origin, plain_text: str, segments: list[Path], out_dir: Path,
    session: HttpSession, settings: Settings, media_root: Path,
) -> None:
    """Objects stored gzip-compressed (S3 ``Content-Encoding: gzip`` metadata) come that
    way whatever the request says; browsers decode them, so must we."""
    for seg in segments:
        serve(media_origin, f"/gzseg/{seg.name}", gzip.compress(seg.read_bytes()),
              headers={"Content-Encoding": "gzip", "Content-Type": "video/mp2t"})
    serve(media_origin, "/gzseg/index.m3u8", plain_text)
    out = await get(media_origin, "/gzseg/index.m3u8", out_dir / "v.ts", session, settings)
    expected = b"".join(seg.read_bytes() for seg in segments)
    assert out.read_bytes() == expected


async def test_uris_with_spaces_and_non_ascii_names(
    media_origin: Origin, segments: list[Path], out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    """Packagers name segments after the source file (``My Clip 001.ts``, ``видео.ts``):
    not valid URIs, but every player percent-encodes them, and so must we."""
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", '#EXT-X-KEY:METHOD=AES-128,URI="my key.bin"']
    for index, seg in enumerate(segments):
        name = f"My Clip {index:03d}.ts" if index % 2 else f"видео {index:03d}.ts"
        data = encrypt(seg.read_bytes(), KEY_A, index.to_bytes(16, "big"))
        serve(media_origin, "/names/" + name, data)  # the origin decodes request paths
        lines += ["#EXTINF:0.5,", name]
    serve(media_origin, "/names/my key.bin", KEY_A)
    serve(media_origin, "/names/index.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, "/names/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


async def test_dash_fragment_urls_with_spaces_and_non_ascii(
    media_origin: Origin, media_root: Path, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    """yt-dlp hands DASH fragment URLs over as the MPD wrote them, unencoded."""
    from mediavault.models import Fragment

    names = ["init.mp4", *sorted(p.name for p in (media_root / "dash").glob("seg*.m4s"))]
    urls = []
    for name in names:
        served = f"/dash files/представление 1/{name}"
        serve(media_origin, served, (media_root / "dash" / name).read_bytes())
        urls.append(media_origin.url(served))
    fmt = Format(format_id="dash", url=media_origin.url("/m.mpd"), protocol=Protocol.DASH,
                 fragments=tuple(Fragment(url=url) for url in urls))
    result = await fetch(fmt, out_dir / "v.mp4", session=session, settings=settings)
    assert video_packets(result.path) == source_packets


async def test_relative_uris_keep_empty_path_segments(
    media_origin: Origin, plain_text: str, segments: list[Path], out_dir: Path,
    session: HttpSession, settings: Settings, source_packets: Packets,
) -> None:
    """``/media//v/index.m3u8`` (an S3/CDN key with ``//``): its ``seg000.ts`` is
    ``/media//v/seg000.ts`` (RFC 3986), a different object from ``/media/v/seg000.ts``."""
    for seg in segments:
        serve(media_origin, f"/media//v/{seg.name}", seg.read_bytes())
    serve(media_origin, "/media//v/index.m3u8", plain_text)
    out = await get(media_origin, "/media//v/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


# -- byte ranges and init sections --------------------------------------------------------

def _ranges(text: str) -> list[str]:
    """The Range headers the playlist ``text`` (with explicit offsets) asks for."""
    out = []
    for length, offset in re.findall(r'BYTERANGE[:=]"?(\d+)@(\d+)', text):
        out.append(f"bytes={offset}-{int(offset) + int(length) - 1}")
    return out


@pytest.mark.parametrize("drop", ["after-first-segment", "all-segments"])
async def test_byte_ranges_without_offsets(
    drop: str, media_origin: Origin, media_root: Path, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    """``EXT-X-BYTERANGE:<n>`` continues where the previous range of the same resource
    ended; a first segment without offset follows its EXT-X-MAP's BYTERANGE."""
    reference = (media_root / "fmp4" / "index.m3u8").read_text()
    count = 0

    def strip(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        keep = drop == "after-first-segment" and count == 1
        return match[0] if keep else f"#EXT-X-BYTERANGE:{match[1]}"

    text = re.sub(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", strip, reference)
    assert "@" not in text.split("#EXTINF", 2)[2]  # offsets really are gone
    serve(media_origin, "/fmp4/no-offsets.m3u8", text)
    out = await get(media_origin, "/fmp4/no-offsets.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    asked = [rng for _, path, rng in media_origin.log if path == "/fmp4/index.m4s"]
    assert sorted(asked, key=lambda r: int(r[6:].split("-")[0])) == _ranges(reference)


async def test_fmp4_segment_files_with_ext_x_map(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    """CMAF as ffmpeg's HLS muxer writes it: init.mp4 + one .m4s file per segment."""
    out = await get(media_origin, "/dash/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/dash/init.mp4"] == 1


async def test_a_fragment_answered_200_to_its_range_request(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    media_origin.faults["/fmp4/index.m4s"] = Fault(no_ranges=True, skip=3, count=4)
    out = await get(media_origin, "/fmp4/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.faults["/fmp4/index.m4s"].count == 0, "the fault did apply"


# -- discontinuities ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ts", "fmp4-same-map", "fmp4-new-map"])
async def test_discontinuity_with_timestamps_starting_again(
    kind: str, media_origin: Origin, media_root: Path, out_dir: Path, tmp_path: Path,
    session: HttpSession, settings: Settings,
) -> None:
    """The first 6 s, an EXT-X-DISCONTINUITY, then the same 6 s again (timestamps back
    at zero, as after an inserted ad): 12 s of video holding every frame twice."""
    folder = "plain" if kind == "ts" else "dash"
    segs = sorted((media_root / folder).glob("seg*.*"))[:12]
    init = b"" if kind == "ts" else (media_root / "dash" / "init.mp4").read_bytes()
    half = tmp_path / f"half.{'ts' if kind == 'ts' else 'mp4'}"
    half.write_bytes(init + b"".join(s.read_bytes() for s in segs))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1"]
    for period in range(2):
        if period:
            lines.append("#EXT-X-DISCONTINUITY")
        if kind != "ts" and (period == 0 or kind == "fmp4-new-map"):
            lines.append(f'#EXT-X-MAP:URI="init.mp4?period={period}"')
        for seg in segs:
            lines += ["#EXTINF:0.5,", seg.name]
    serve(media_origin, f"/{folder}/disc.m3u8", "\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    out = await get(media_origin, f"/{folder}/disc.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == video_packets(half) * 2
    assert duration(out) == pytest.approx(2 * duration(half), abs=0.3)
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.mp4"]


async def test_gap_segments_are_skipped(
    media_origin: Origin, plain_text: str, segments: list[Path], out_dir: Path,
    tmp_path: Path, session: HttpSession, settings: Settings,
) -> None:
    """EXT-X-GAP (RFC 8216bis): the server says the segment is missing (it 404s here);
    players skip it, and so do we, instead of failing the whole download."""
    gone = {"seg009.ts", "seg010.ts"}
    text = plain_text
    for name in gone:
        text = text.replace(f"#EXTINF:0.500000,\n{name}", f"#EXT-X-GAP\n#EXTINF:0.500000,\n{name}")
    assert text.count("#EXT-X-GAP") == len(gone)
    for name in gone:
        media_origin.faults[f"/plain/{name}"] = Fault(status=[404] * 10)
    serve(media_origin, "/plain/gaps.m3u8", text)
    out = await get(media_origin, "/plain/gaps.m3u8", out_dir / "v.ts", session, settings)
    assert out.read_bytes() == b"".join(s.read_bytes() for s in segments if s.name not in gone)
    assert all(media_origin.requests[f"/plain/{name}"] == 0 for name in gone)


# -- live playlists -----------------------------------------------------------------------

@pytest.mark.parametrize("playlist_type", ["", "#EXT-X-PLAYLIST-TYPE:EVENT\n"])
async def test_a_live_playlist_is_refused_at_once(
    playlist_type: str, media_origin: Origin, plain_text: str, out_dir: Path,
    session: HttpSession, settings: Settings,
) -> None:
    """No EXT-X-ENDLIST: a live or still growing stream. Saving the current window as if
    it were the whole video would be silently wrong: a clear error, no segment fetched."""
    text = plain_text.replace("#EXT-X-ENDLIST\n", "").replace("#EXTM3U\n", "#EXTM3U\n" + playlist_type)
    serve(media_origin, "/plain/live.m3u8", text)
    began = time.monotonic()
    with pytest.raises(FormatNotAvailableError, match="live"):
        await get(media_origin, "/plain/live.m3u8", out_dir / "v.mp4", session, settings)
    assert time.monotonic() - began < 5
    assert not any(path.endswith(".ts") for _, path, _ in media_origin.log)
    assert list(out_dir.iterdir()) == []


async def test_a_vod_playlist_without_endlist_is_complete(
    media_origin: Origin, plain_text: str, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: Packets,
) -> None:
    text = plain_text.replace("#EXT-X-ENDLIST\n", "").replace(
        "#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n")
    serve(media_origin, "/plain/vod.m3u8", text)
    out = await get(media_origin, "/plain/vod.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets


# -- master playlists ---------------------------------------------------------------------

MASTER = """#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",URI="audio/en.m3u8"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000000,RESOLUTION=1920x1080,URI="iframes/hi.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=80x60
sub/low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=160x120,FRAME-RATE=10.000,CODECS="avc1.42c00c,mp4a.40.2"
../plain/index.m3u8?token=1
#EXT-X-STREAM-INF:BANDWIDTH=40000,CODECS="mp4a.40.2"
audio-only.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=8000000,URI="iframes/lo.m3u8"
"""


async def test_master_with_subfolders_iframe_playlists_and_audio_renditions(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    """The best variant is a real one: I-frame playlists (highest BANDWIDTH here) are
    never picked, and the variant URI climbs out of the master's folder."""
    serve(media_origin, "/show/master.m3u8", MASTER)
    out = await get(media_origin, "/show/master.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    requested = {path for _, path, _ in media_origin.log}
    assert not any("iframes" in path or "low" in path for path in requested)


async def test_a_variant_chosen_by_tbr_compares_average_bandwidth(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    """A format's tbr is the AVERAGE-BANDWIDTH (as listed); matching it against the peak
    BANDWIDTH would pick the other variant (and its missing playlist)."""
    serve(media_origin, "/vbr.m3u8", (
        "#EXTM3U\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1000000,RESOLUTION=160x120\n"
        "plain/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1900000,AVERAGE-BANDWIDTH=1800000,RESOLUTION=160x120\n"
        "low/index.m3u8\n"
    ))
    out = await get(media_origin, "/vbr.m3u8", out_dir / "v.mp4", session, settings, tbr=1000.0)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/low/index.m3u8"] == 0


# -- fragment origin behaviours ----------------------------------------------------------

async def test_a_fragment_missing_once_is_asked_for_again(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: Packets,
) -> None:
    """A CDN edge answering 404 for a segment its origin has: one more try fetches it."""
    media_origin.faults["/plain/seg005.ts"] = Fault(status=[404], count=1)
    out = await get(media_origin, "/plain/index.m3u8", out_dir / "v.mp4", session, settings)
    assert video_packets(out) == source_packets
    assert media_origin.requests["/plain/seg005.ts"] == 2


async def test_a_fragment_that_stays_missing_fails_naming_it(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    media_origin.faults["/plain/seg005.ts"] = Fault(status=[404] * 50)
    began = time.monotonic()
    with pytest.raises(HTTPStatusError) as info:
        await get(media_origin, "/plain/index.m3u8", out_dir / "v.mp4", session, settings)
    assert time.monotonic() - began < 10, "bounded retries"
    assert info.value.status_code == 404
    assert "fragment 6 of 24" in info.value.message and "seg005.ts" in info.value.message
    assert media_origin.requests["/plain/seg005.ts"] == 3
    assert (out_dir / "v.mp4.part").exists(), "what was fetched stays for a resume"


async def test_a_cancel_during_the_missing_fragment_retries_is_prompt(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    import asyncio

    from mediavault.errors import CancelledError_

    media_origin.faults["/plain/seg005.ts"] = Fault(status=[404] * 50)
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, cancel.set)
    began = time.monotonic()
    with pytest.raises(CancelledError_):
        await fetch(hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
                    session=session, settings=settings, cancel=cancel)
    assert time.monotonic() - began < 1.0
    assert (out_dir / "v.mp4.part.json").exists(), "resumable"
