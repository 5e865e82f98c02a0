"""Segments and fragments read by connection threads (download/rawhttp.py, threaded.py)."""

from __future__ import annotations

import asyncio
import http.cookiejar
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.download.rawhttp import RangeReader
from mediavault.errors import CancelledError_
from mediavault.models import Format
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.origin import Fault, Origin
from tests.support.rawserver import RawServer

MB = 1024 * 1024


@pytest.fixture
def raw_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The ranges requested by connection threads."""
    seen: list[tuple[int, int]] = []
    original = RangeReader.request

    def spy(self: RangeReader, link: Any, start: int, end: int, extra: Any, **kw: Any) -> Any:
        seen.append((start, end))
        return original(self, link, start, end, extra, **kw)

    monkeypatch.setattr(RangeReader, "request", spy)
    return seen


async def test_segments_after_the_probe_are_read_by_threads_on_kept_alive_connections(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings,
    raw_requests: list[tuple[int, int]],
) -> None:
    digest = write_random(origin_root / "big.bin", 24 * MB + 3)
    result = await fetch(Format(format_id="f", url=origin.url("/big.bin")), out_dir / "big.bin",
                         session=session, settings=settings, connections=4)
    assert sha256_of(result.path) == digest
    assert result.sha256 == digest  # hashed while it downloaded
    assert raw_requests, "no segment went through the connection threads"
    gets = origin.requests["/big.bin"]
    assert gets == len(raw_requests) + 1  # the probe (httpx), then the threads
    assert origin.connections <= gets


async def test_thread_requests_carry_the_sessions_headers_and_cookies(
    origin: Origin, origin_root: Path, out_dir: Path, settings: Settings,
    raw_requests: list[tuple[int, int]],
) -> None:
    write_random(origin_root / "c.bin", 8 * MB)
    jar = http.cookiejar.CookieJar()
    jar.set_cookie(http.cookiejar.Cookie(
        0, "sid", "s3cret", None, False, "127.0.0.1", True, False, "/", True, False,
        None, False, None, None, {},
    ))
    fmt = Format(format_id="f", url=origin.url("/c.bin"), http_headers={"Referer": "http://x.test/"})
    async with HttpSession(settings, cookies=jar) as session:
        await fetch(fmt, out_dir / "c.bin", session=session, settings=settings)
    assert raw_requests
    assert len(origin.headers_seen) == len(raw_requests) + 1
    for headers in origin.headers_seen:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert lowered["user-agent"] == settings.user_agent
        assert lowered["referer"] == "http://x.test/"
        assert "sid=s3cret" in lowered["cookie"]
        assert lowered["accept-encoding"] == "identity"
        assert lowered["range"].startswith("bytes=")


async def test_cancel_stops_threads_stuck_in_a_stall(
    origin: Origin, origin_root: Path, out_dir: Path, session: HttpSession, settings: Settings,
) -> None:
    write_random(origin_root / "s.bin", 16 * MB)
    origin.faults["/s.bin"] = Fault(stall_after=10_000, stall_seconds=20, skip=1)
    slow = settings.model_copy(update={"stall_timeout": 30.0})
    cancel = asyncio.Event()
    task = asyncio.create_task(fetch(
        Format(format_id="f", url=origin.url("/s.bin")), out_dir / "s.bin",
        session=session, settings=slow, cancel=cancel,
    ))
    await asyncio.sleep(0.5)  # every segment thread now waits in recv
    started = time.monotonic()
    cancel.set()
    with pytest.raises(CancelledError_):
        await task
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 2
    while any(t.name.startswith("mediavault-http") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "connection threads still running"
        await asyncio.sleep(0.05)
    assert (out_dir / "s.bin.part.json").exists()  # resumable


class _ChunkedRanges(RawServer):
    """A server whose first answer is a plain 206; later 206s come chunked."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data

    def answer(self, conn: socket.socket, method: str, headers: dict[str, str]) -> bool:
        first, last = (int(x) for x in headers["range"].removeprefix("bytes=").split("-"))
        last = min(last, len(self.data) - 1)
        body = self.data[first : last + 1]
        head = f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {first}-{last}/{len(self.data)}\r\n"
        if self.count() == 1:
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            conn.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            for at in range(0, len(body), 100_000):
                piece = body[at : at + 100_000]
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        return True


@pytest.fixture
def chunked_server(origin_root: Path) -> Iterator[tuple[_ChunkedRanges, str]]:
    digest = write_random(origin_root / "x.bin", 6 * MB + 1)
    with _ChunkedRanges((origin_root / "x.bin").read_bytes()) as server:
        yield server, digest


async def test_a_chunked_range_answer_is_left_to_httpx(
    chunked_server: tuple[_ChunkedRanges, str], out_dir: Path, session: HttpSession,
    settings: Settings, raw_requests: list[tuple[int, int]],
) -> None:
    server, digest = chunked_server
    url = f"http://127.0.0.1:{server.port}/x.bin"
    result = await fetch(Format(format_id="f", url=url), out_dir / "x.bin",
                         session=session, settings=settings, connections=2)
    assert sha256_of(result.path) == digest
    assert raw_requests, "the threads tried first"
    assert server.answers > len(raw_requests) + 1, "httpx fetched what the threads could not"



async def test_a_fragment_url_with_spaces_and_non_ascii_is_sent_encoded(
    origin: Origin, origin_root: Path,
) -> None:
    from ipaddress import ip_address

    from mediavault.download.threaded import ThreadedRanges

    data = b"segment bytes " * 1000
    (origin_root / "My Clip видео.ts").write_bytes(data)
    url = origin.url("/My Clip видео.ts?sig=a b")  # as a playlist may give it, unencoded
    reader = RangeReader(url, [("User-Agent", "t")], [ip_address("127.0.0.1")], fd=-1,
                         connect_timeout=5, stall_timeout=5)
    threads = ThreadedRanges(reader, 1)
    try:
        link = threads.link()
        assert await threads.fetch(link, url, [("User-Agent", "t")], None) == data
        assert await threads.fetch(link, url, [("User-Agent", "t")], (5, 9)) == data[5:10]
    finally:
        await threads.close()
    assert origin.requests["/My Clip видео.ts"] == 2
