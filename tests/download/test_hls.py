"""HLS and DASH through the fragment engine, against ffmpeg-generated media on the origin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.errors import DRMProtectedError, HTTPStatusError
from mediavault.models import Format, Fragment, Progress, Protocol
from mediavault.net.session import HttpSession
from tests.download.media import probe_format, video_packets
from tests.support.origin import Fault, Origin


def hls(url: str, **kw: object) -> Format:
    return Format(format_id="hls", url=url, protocol=Protocol.HLS, **kw)  # type: ignore[arg-type]


@pytest.fixture
def source_packets(media_root: Path) -> list[tuple[str, str]]:
    return video_packets(media_root / "source.ts")


async def test_hls_ts_remuxed_to_mp4_keeps_every_packet(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]],
) -> None:
    events: list[Progress] = []
    result = await fetch(
        hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
        session=session, settings=settings, on_progress=events.append, item_id="v",
    )
    assert result.path == out_dir / "v.mp4" and result.size == (out_dir / "v.mp4").stat().st_size
    assert "mp4" in probe_format(result.path)
    assert video_packets(result.path) == source_packets
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.mp4"], "no .part/state left behind"
    assert events[-1].status == "finished"
    assert events[-1].fragments_total == 24 and events[-1].fragments_done == 24


async def test_hls_ts_output_is_the_exact_segment_concatenation(
    media_origin: Origin, media_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    result = await fetch(
        hls(media_origin.url("/plain/index.m3u8"), ext="ts"), out_dir / "v.ts",
        session=session, settings=settings,
    )
    expected = b"".join(p.read_bytes() for p in sorted((media_root / "plain").glob("*.ts")))
    assert hashlib.sha256(result.path.read_bytes()).digest() == hashlib.sha256(expected).digest()


@pytest.mark.parametrize("variant", ["enc", "enc2"])
async def test_hls_aes128_is_decrypted(
    variant: str, media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]],
) -> None:
    # enc: ffmpeg -hls_key_info_file (explicit IV); enc2: implicit IV = media sequence number
    result = await fetch(
        hls(media_origin.url(f"/{variant}/index.m3u8")), out_dir / "v.mp4",
        session=session, settings=settings,
    )
    assert video_packets(result.path) == source_packets
    assert media_origin.requests[f"/{variant}/key.bin"] == 1, "the key is fetched once"


async def test_hls_fmp4_byte_ranges_and_init_segment(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]],
) -> None:
    result = await fetch(
        hls(media_origin.url("/fmp4/index.m3u8")), out_dir / "v.mp4",
        session=session, settings=settings,
    )
    assert video_packets(result.path) == source_packets
    ranges = [r for _, path, r in media_origin.log if path == "/fmp4/index.m4s"]
    assert len(ranges) == 25 and all(r and r.startswith("bytes=") for r in ranges)


async def test_master_playlist_resolves_to_the_best_variant(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]],
) -> None:
    result = await fetch(
        hls(media_origin.url("/master.m3u8")), out_dir / "v.mp4", session=session, settings=settings
    )
    assert video_packets(result.path) == source_packets
    assert media_origin.requests["/low/index.m3u8"] == 0


async def test_master_playlist_variant_by_height(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    # the format asks for the 60p variant, whose playlist is missing on the origin
    with pytest.raises(HTTPStatusError) as info:
        await fetch(hls(media_origin.url("/master.m3u8"), height=60), out_dir / "v.mp4",
                    session=session, settings=settings)
    assert info.value.status_code == 404
    assert media_origin.requests["/low/index.m3u8"] >= 1


async def test_dash_fragment_list(
    media_origin: Origin, media_root: Path, out_dir: Path, session: HttpSession,
    settings: Settings, source_packets: list[tuple[str, str]],
) -> None:
    names = ["init.mp4", *sorted(p.name for p in (media_root / "dash").glob("*.m4s"))]
    fmt = Format(
        format_id="dash", url=media_origin.url("/dash/manifest.mpd"), protocol=Protocol.DASH,
        fragments=tuple(Fragment(url=media_origin.url(f"/dash/{n}")) for n in names),
    )
    result = await fetch(fmt, out_dir / "v.mp4", session=session, settings=settings)
    assert video_packets(result.path) == source_packets


async def test_fragment_faults_are_retried(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]],
) -> None:
    media_origin.faults["/plain/seg003.ts"] = Fault(status=[503], retry_after=1, count=1)
    media_origin.faults["/plain/seg007.ts"] = Fault(reset_after=1000, count=1)
    media_origin.faults["/plain/seg011.ts"] = Fault(truncate_at=500, count=1)
    media_origin.faults["/plain/seg015.ts"] = Fault(stall_after=100, stall_seconds=3, count=1)
    media_origin.faults["/plain/seg019.ts"] = Fault(lie_length=100, count=1)
    result = await fetch(
        hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
        session=session, settings=settings,
    )
    assert video_packets(result.path) == source_packets
    for n in (3, 7, 11, 15, 19):
        assert media_origin.requests[f"/plain/seg{n:03d}.ts"] == 2


async def test_sample_aes_is_drm_and_refused(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    media_origin.routes["/drm.m3u8"] = lambda req: (200, {}, (
        b'#EXTM3U\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://key",KEYFORMAT="com.apple.streamingkeydelivery"\n'
        b"#EXTINF:1,\nplain/seg000.ts\n#EXT-X-ENDLIST\n"
    ))
    with pytest.raises(DRMProtectedError):
        await fetch(hls(media_origin.url("/drm.m3u8")), out_dir / "v.mp4", session=session, settings=settings)
    assert media_origin.requests["/plain/seg000.ts"] == 0


@pytest.fixture
def remux_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The finished-file remuxes run (a live remux makes none)."""
    import mediavault.download.fragments as fragments

    calls: list[Path] = []
    original = fragments.remux

    async def spy(src: Path, dest: Path, **kw: object) -> int:
        calls.append(src)
        return await original(src, dest, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(fragments, "remux", spy)
    return calls


async def test_a_fresh_ts_stream_is_remuxed_while_it_downloads(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]], remux_calls: list[Path],
) -> None:
    result = await fetch(hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
                         session=session, settings=settings)
    assert remux_calls == [], "remuxed live, nothing left to do at the end"
    assert video_packets(result.path) == source_packets
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.mp4"]


async def test_a_failing_live_remux_falls_back_to_the_file(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]], remux_calls: list[Path], tmp_path: Path,
) -> None:
    """An ffmpeg that dies mid-stream costs nothing: the .part file is remuxed instead."""
    fake = tmp_path / "ffmpeg-dies"
    fake.write_text(f"#!/bin/sh\nfor a; do [ \"$a\" = pipe:0 ] && exit 1; done\nexec {settings.ffmpeg} \"$@\"\n")
    fake.chmod(0o755)
    flaky = settings.model_copy(update={"ffmpeg": str(fake)})
    result = await fetch(hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
                         session=session, settings=flaky)
    assert len(remux_calls) == 1
    assert video_packets(result.path) == source_packets
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.mp4"]


async def test_fragments_are_read_by_connection_threads(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mediavault.download.threaded import ThreadedRanges

    fetched: list[str] = []
    original = ThreadedRanges.fetch

    async def spy(self: ThreadedRanges, link: object, url: str, *rest: object) -> bytes:
        fetched.append(url)
        return await original(self, link, url, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(ThreadedRanges, "fetch", spy)
    await fetch(hls(media_origin.url("/fmp4/index.m3u8")), out_dir / "v.mp4",
                session=session, settings=settings)
    segments = [p for p in media_origin.requests if not p.endswith(".m3u8")]
    assert fetched and len(fetched) == sum(media_origin.requests[p] for p in segments)


async def test_fragments_fetched_ahead_stay_within_the_byte_budget(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings,
    source_packets: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow writer never lets fragments pile up past the window or the byte budget."""
    import asyncio

    import mediavault.download.fragments as fragments
    from mediavault.download.files import PartFile

    budget = 300_000
    monkeypatch.setattr(fragments, "AHEAD_BYTES", budget)
    slow_write = PartFile.write_at

    async def write_at(self: PartFile, data: bytes, offset: int, hasher: object = None) -> None:
        await asyncio.sleep(0.05)  # a slow disk
        await slow_write(self, data, offset)

    monkeypatch.setattr(PartFile, "write_at", write_at)
    peaks: list[int] = []
    may_fetch = fragments.FragmentDownload._may_fetch

    def spy(self: fragments.FragmentDownload) -> bool:
        peaks.append(self._ready_bytes)
        return may_fetch(self)

    monkeypatch.setattr(fragments.FragmentDownload, "_may_fetch", spy)
    result = await fetch(hls(media_origin.url("/plain/index.m3u8")), out_dir / "v.mp4",
                         session=session, settings=settings, connections=2)
    assert video_packets(result.path) == source_packets
    largest = max(p.stat().st_size for p in (media_origin.root / "plain").glob("*.ts"))
    # the window (2 x connections) may hold its fragments; beyond it, only the budget
    assert max(peaks) <= max(budget, 4 * largest) + 2 * largest
