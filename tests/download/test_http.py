"""Plain HTTP files against the local origin: segmented, single stream, checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.errors import HTTPStatusError, IntegrityError
from mediavault.models import Format, Progress
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Origin


def fmt_for(url: str, **kw: object) -> Format:
    return Format(format_id="f", url=url, **kw)  # type: ignore[arg-type]


async def test_segmented_download_is_byte_identical(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    digest = write_random(origin_root / "file.bin", 12 * 1024 * 1024 + 123)
    events: list[Progress] = []
    dest = out_dir / "file.bin"
    result = await fetch(
        fmt_for(origin.url("/file.bin")), dest, session=session, settings=settings,
        on_progress=events.append, item_id="x",
    )
    assert result.path == dest and result.size == 12 * 1024 * 1024 + 123
    assert sha256_of(dest) == digest
    assert not (out_dir / "file.bin.part").exists()
    assert not (out_dir / "file.bin.part.json").exists()
    ranged = [r for _, path, r in origin.log if path == "/file.bin" and r]
    assert len(ranged) >= 3, "several connections were used"
    assert events[-1].status == "finished" and events[-1].downloaded_bytes == result.size
    # a split cuts a running request short; what the server had already sent is bounded
    # by the socket buffers, never a second copy of the file
    assert origin.bytes_sent["/file.bin"] < result.size * 1.4


async def test_no_ranges_means_one_stream(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    digest = write_random(origin_root / "plain.bin", 3 * 1024 * 1024)
    origin.supports_ranges = False
    result = await fetch(
        fmt_for(origin.url("/plain.bin")), out_dir / "plain.bin", session=session, settings=settings
    )
    assert sha256_of(result.path) == digest
    assert result.sha256 == digest
    assert origin.requests["/plain.bin"] == 1


async def test_small_and_empty_files(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    digest = write_random(origin_root / "small.bin", 1000)
    (origin_root / "empty.bin").write_bytes(b"")
    small = await fetch(fmt_for(origin.url("/small.bin")), out_dir / "small.bin", session=session, settings=settings)
    empty = await fetch(fmt_for(origin.url("/empty.bin")), out_dir / "empty.bin", session=session, settings=settings)
    assert sha256_of(small.path) == digest and small.size == 1000
    assert empty.size == 0 and empty.path.read_bytes() == b""


async def test_checksum_from_source_is_verified(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    digest = write_random(origin_root / "sum.bin", 2 * 1024 * 1024)
    good = await fetch(
        fmt_for(origin.url("/sum.bin"), sha256=digest), out_dir / "a.bin", session=session, settings=settings
    )
    assert good.sha256 == digest
    with pytest.raises(IntegrityError):
        await fetch(
            fmt_for(origin.url("/sum.bin"), sha256="0" * 64), out_dir / "b.bin", session=session, settings=settings
        )
    assert not (out_dir / "b.bin").exists() and not (out_dir / "b.bin.part").exists()


async def test_missing_file_is_a_clear_error(
    origin: Origin, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    with pytest.raises(HTTPStatusError) as info:
        await fetch(fmt_for(origin.url("/nope.bin")), out_dir / "nope.bin", session=session, settings=settings)
    assert info.value.status_code == 404
    assert origin.requests["/nope.bin"] == 1, "a 404 is not retried"
