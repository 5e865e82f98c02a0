"""Resume: after kill -9, after cancellation, and a clean restart when the remote changed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.download.state import TransferState
from mediavault.errors import CancelledError_
from mediavault.models import Format, Progress, Protocol
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Origin

SCRIPT = """
import asyncio, sys
from pathlib import Path
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.models import Format
from mediavault.net.session import HttpSession

async def main():
    settings = Settings(data_dir=Path(sys.argv[3]), allow_private_networks=True)
    async with HttpSession(settings) as http:
        await fetch(Format(format_id="f", url=sys.argv[1]), Path(sys.argv[2]),
                    session=http, settings=settings)

asyncio.run(main())
"""


def fmt(url: str) -> Format:
    return Format(format_id="f", url=url)


async def test_resume_after_kill_9(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings,
    tmp_path: Path,
) -> None:
    size = 40 * 1024 * 1024
    digest = write_random(origin_root / "big.bin", size)
    origin.throttle["/big.bin"] = 1024 * 1024  # per connection
    dest = out_dir / "big.bin"
    state_file = out_dir / "big.bin.part.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, origin.url("/big.bin"), str(dest), str(tmp_path / "data")],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = TransferState.load(state_file)
            if state is not None and state.done.total() >= size // 2:
                break
            assert proc.poll() is None, "the download ended before it could be killed"
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the download never reached 50%")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    await asyncio.sleep(0.2)  # let the origin notice the dead connections
    sent_before = origin.bytes_sent["/big.bin"]
    saved = TransferState.load(state_file)
    assert saved is not None and saved.done.total() >= size // 2
    assert not dest.exists()

    origin.reset_stats()
    origin.throttle.clear()
    result = await fetch(fmt(origin.url("/big.bin")), dest, session=session, settings=settings)
    assert sha256_of(result.path) == digest
    again = sent_before + origin.bytes_sent["/big.bin"] - size
    assert again <= size * 0.10, f"{again} bytes were fetched twice"
    assert not state_file.exists() and not (out_dir / "big.bin.part").exists()


async def cancel_at(
    fraction: float, fmt_: Format, dest: Path, session: HttpSession, settings: Settings
) -> float:
    """Start ``fmt_``, cancel it at ``fraction`` of the bytes; returns the cancel latency."""
    cancel = asyncio.Event()
    set_at: list[float] = []

    def on_progress(p: Progress) -> None:
        if p.total_bytes and p.downloaded_bytes >= p.total_bytes * fraction and not cancel.is_set():
            set_at.append(time.monotonic())
            cancel.set()

    with pytest.raises(CancelledError_):
        await fetch(fmt_, dest, session=session, settings=settings, on_progress=on_progress, cancel=cancel)
    return time.monotonic() - set_at[0]


async def test_cancel_is_prompt_and_resumable(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    size = 16 * 1024 * 1024
    digest = write_random(origin_root / "c.bin", size)
    origin.throttle["/c.bin"] = 1024 * 1024
    dest = out_dir / "c.bin"
    latency = await cancel_at(0.3, fmt(origin.url("/c.bin")), dest, session, settings)
    assert latency < 0.5
    saved = TransferState.load(out_dir / "c.bin.part.json")
    assert saved is not None and size * 0.25 <= saved.done.total() < size
    origin.reset_stats()
    origin.throttle.clear()
    result = await fetch(fmt(origin.url("/c.bin")), dest, session=session, settings=settings)
    assert sha256_of(result.path) == digest
    assert origin.bytes_sent["/c.bin"] <= size - saved.done.total() + size * 0.1


async def test_changed_remote_restarts_cleanly(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    size = 8 * 1024 * 1024
    source = origin_root / "m.bin"
    write_random(source, size, seed=1)
    origin.throttle["/m.bin"] = 1024 * 1024
    dest = out_dir / "m.bin"
    await cancel_at(0.4, fmt(origin.url("/m.bin")), dest, session, settings)
    assert (out_dir / "m.bin.part.json").exists()
    # same size, new bytes and a new modification time: a new ETag
    new_digest = write_random(source, size, seed=2)
    os.utime(source, (time.time() + 10, time.time() + 10))
    origin.throttle.clear()
    origin.reset_stats()
    result = await fetch(fmt(origin.url("/m.bin")), dest, session=session, settings=settings)
    assert sha256_of(result.path) == new_digest
    assert any(r and r.startswith("bytes=0-") for _, _, r in origin.log), "restarted from byte 0"


async def test_hls_resume_skips_written_fragments(
    media_origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    media_origin.throttle["/plain/seg"] = 20 * 1024
    dest = out_dir / "v.mp4"
    hls = Format(format_id="h", url=media_origin.url("/plain/index.m3u8"), protocol=Protocol.HLS)
    await cancel_at(0.4, hls, dest, session, settings)
    saved = TransferState.load(out_dir / "v.mp4.part.json")
    assert saved is not None and saved.kind == "fragments" and 0 < saved.fragments_done < 24
    assert (out_dir / "v.mp4.part").stat().st_size >= saved.offset
    media_origin.throttle.clear()
    media_origin.reset_stats()
    result = await fetch(hls, dest, session=session, settings=settings)
    assert result.size > 0
    fetched = [p for p, n in media_origin.requests.items() if p.startswith("/plain/seg") and n]
    assert len(fetched) == 24 - saved.fragments_done
    assert sorted(p.name for p in out_dir.iterdir()) == ["v.mp4"]
