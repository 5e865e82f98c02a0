"""A fault-injecting origin: every case still ends in a byte-identical file."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.download.state import TransferState
from mediavault.errors import HTTPStatusError, IntegrityError, NetworkError
from mediavault.models import Format
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Fault, Origin

SIZE = 6 * 1024 * 1024 + 17

FAULTS = {
    "503 with Retry-After": Fault(status=[503, 503], retry_after=1, count=1),
    "429 with Retry-After": Fault(status=[429], retry_after=1, count=1),
    "connection reset": Fault(reset_after=300_000, count=2),
    "truncated body": Fault(truncate_at=200_000, count=2),
    "stall": Fault(stall_after=100_000, stall_seconds=4, count=1),
    "Content-Length larger than the body": Fault(lie_length=5000, count=2),
    "Content-Length smaller than the body": Fault(lie_length=-5000, count=2),
    "range answered with 200 mid-download": Fault(no_ranges=True, skip=1, count=1),
}


@pytest.mark.parametrize("name", list(FAULTS))
@pytest.mark.parametrize(
    ("where", "threads"), [("probe", True), ("segment", True), ("segment", False)],
    ids=["probe", "segment-threads", "segment-httpx"],
)
async def test_fault_gives_identical_file(
    name: str, where: str, threads: bool, origin: Origin, origin_root: Path, out_dir: Path,
    session: HttpSession, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each fault on the probe (always httpx) and on a segment read after it, by a
    connection thread or through httpx."""
    monkeypatch.setattr("mediavault.download.http.RAW_BODIES", threads)
    digest = write_random(origin_root / "f.bin", SIZE, seed=len(name))
    fault = FAULTS[name]
    origin.faults["/f.bin"] = replace(fault, skip=fault.skip + (1 if where == "segment" else 0))
    started = time.monotonic()
    result = await fetch(
        Format(format_id="f", url=origin.url("/f.bin")), out_dir / "f.bin",
        session=session, settings=settings,
    )
    assert sha256_of(result.path) == digest
    assert result.size == SIZE
    assert origin.requests["/f.bin"] >= 2, "the fault was hit and the request repeated"
    assert time.monotonic() - started < 15


async def test_retry_after_is_honoured(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings
) -> None:
    write_random(origin_root / "f.bin", 1000)
    origin.faults["/f.bin"] = Fault(status=[503], retry_after=2, count=1)
    started = time.monotonic()
    await fetch(Format(format_id="f", url=origin.url("/f.bin")), out_dir / "f.bin",
                session=session, settings=settings)
    assert time.monotonic() - started >= 1.9


async def test_persistent_fault_fails_with_a_clear_error_and_keeps_state(
    origin: Origin, origin_root: Path, out_dir: Path, settings: Settings
) -> None:
    write_random(origin_root / "f.bin", SIZE)
    # the probe gets its 2 MiB, then the server breaks for good
    origin.faults["/f.bin"] = Fault(status=[500] * 100, skip=1)
    quick = settings.model_copy(update={"max_retries": 2})
    async with HttpSession(quick) as session:
        with pytest.raises(HTTPStatusError) as info:
            await fetch(Format(format_id="f", url=origin.url("/f.bin")), out_dir / "f.bin",
                        session=session, settings=quick)
    assert info.value.status_code == 500
    assert (out_dir / "f.bin.part").exists()
    saved = TransferState.load(out_dir / "f.bin.part.json")
    assert saved is not None and saved.done.total() == 2 * 1024 * 1024 - 1, "the probe's bytes are kept"
    assert not (out_dir / "f.bin").exists()


async def test_single_stream_length_mismatch_is_caught(
    origin: Origin, origin_root: Path, out_dir: Path, settings: Settings
) -> None:
    write_random(origin_root / "f.bin", 50_000)
    origin.supports_ranges = False
    origin.faults["/f.bin"] = Fault(lie_length=10)  # always claims 10 bytes more
    quick = settings.model_copy(update={"max_retries": 1})
    async with HttpSession(quick) as session:
        with pytest.raises((IntegrityError, NetworkError)):
            await fetch(Format(format_id="f", url=origin.url("/f.bin")), out_dir / "f.bin",
                        session=session, settings=quick)
    assert not (out_dir / "f.bin").exists()
