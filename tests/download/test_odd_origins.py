"""Origins that answer range requests in unusual but valid ways (or flip behaviour
between requests): every download must still be byte-identical.

The test origin (tests/support/origin.py) is one HTTP stack; these raw-socket servers
cover what other stacks do: interim 1xx answers, HTTP/1.0, a closed connection after
every answer, header spellings and spacing, no reason phrase, a range ignored after the
first answer, and a body ended by closing the connection.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.models import Format
from mediavault.net.session import HttpSession
from tests.download.conftest import sha256_of, write_random
from tests.support.rawserver import RawServer

MB = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")

MODES = (
    "early_hints",  # 103 Early Hints (and a 100 Continue) before every answer
    "http10_close",  # HTTP/1.0 answers, connection closed after each
    "close_each",  # HTTP/1.1 with Connection: close
    "odd_headers",  # lower-case names, padded values, no reason phrase
    "ignores_range_later",  # the first answer honours Range, later ones send all (200)
    "close_delimited",  # 206 with Content-Range but no Content-Length, then close
)


class OddOrigin(RawServer):
    """A threaded HTTP/1.x server for one file, answering GETs in ``mode``'s way."""

    def __init__(
        self, data: bytes, mode: str, *, content_type: str = "video/mp4", head_status: int = 0
    ) -> None:
        super().__init__()
        self.data = data
        self.mode = mode
        self.content_type = content_type
        self.head_status = head_status  # answer HEAD with this status (0: as GET)

    def answer(self, conn: socket.socket, method: str, headers: dict[str, str]) -> bool:
        """Send one answer; False when the connection is to be closed."""
        rng = headers.get("range")
        if method == "HEAD" and self.head_status:  # a signed URL, or HEAD not allowed
            conn.sendall(f"HTTP/1.1 {self.head_status} No\r\nContent-Length: 0\r\n\r\n".encode())
            return True
        nth = self.count()
        size = len(self.data)
        match = _RANGE.fullmatch(rng or "")
        honour = match is not None and not (self.mode == "ignores_range_later" and nth > 1)
        if honour and match is not None:
            first = int(match.group(1))
            last = min(int(match.group(2) or size - 1), size - 1)
            status = "206 Partial Content"
            head = [f"Content-Range: bytes {first}-{last}/{size}"]
        else:
            first, last, status, head = 0, size - 1, "200 OK", []
        body = self.data[first : last + 1] if method == "GET" else b""
        version, keep = "HTTP/1.1", True
        if self.mode == "http10_close":
            version, keep = "HTTP/1.0", False
        if self.mode in ("close_each", "close_delimited"):
            head.append("Connection: close")
            keep = False
        if self.mode != "close_delimited" or not honour:
            head.append(f"Content-Length: {last - first + 1}")
        head += ["Accept-Ranges: bytes", 'ETag: "v1"', f"Content-Type: {self.content_type}"]
        if self.mode == "odd_headers":
            status = status.split()[0]
            head = [f"{k.lower()}:   {v}  " for k, _, v in (h.partition(": ") for h in head)]
        interim = b""
        if self.mode == "early_hints":
            interim = (b"HTTP/1.1 100 Continue\r\n\r\n"
                       b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
        raw = f"{version} {status}\r\n" + "".join(f"{h}\r\n" for h in head) + "\r\n"
        conn.sendall(interim + raw.encode("latin-1"))
        for at in range(0, len(body), 256 * 1024):
            conn.sendall(body[at : at + 256 * 1024])
        return keep


@pytest.fixture(params=MODES)
def odd_origin(request: pytest.FixtureRequest, origin_root: Path) -> Iterator[tuple[OddOrigin, str]]:
    digest = write_random(origin_root / "v.mp4", 9 * MB + 7)
    with OddOrigin((origin_root / "v.mp4").read_bytes(), request.param) as server:
        yield server, digest


async def test_every_odd_origin_gives_the_identical_file(
    odd_origin: tuple[OddOrigin, str], out_dir: Path, session: HttpSession, settings: Settings,
) -> None:
    server, digest = odd_origin
    url = f"http://127.0.0.1:{server.port}/v.mp4"
    result = await fetch(Format(format_id="f", url=url), out_dir / "v.mp4",
                         session=session, settings=settings, connections=4)
    assert sha256_of(result.path) == digest
    assert result.sha256 == digest
    assert result.path.stat().st_size == len(server.data)


@pytest.mark.parametrize(
    "kw",
    [
        {"content_type": "application/octet-stream"},  # object stores' default type
        {"head_status": 403},  # a URL signed for GET only (S3, R2, B2 presigned)
        {"head_status": 405},  # HEAD not allowed
    ],
    ids=["octet-stream", "head-403", "head-405"],
)
async def test_a_direct_file_that_its_server_describes_badly_still_downloads(
    kw: dict[str, Any], tmp_path: Path, settings: Settings,
) -> None:
    from mediavault.client import Client
    from tests.download.media import video_packets
    from tests.support.media import ensure_media

    source = ensure_media().path("video.mp4")
    with OddOrigin(source.read_bytes(), "plain", **kw) as server:
        url = f"http://127.0.0.1:{server.port}/files/clip.mp4?X-Amz-Signature=abc"
        async with Client(settings, output_dir=tmp_path / "lib") as mv:
            [result] = await mv.download(url)
            path = mv.local_path(result)
    assert result.status == "completed", result
    assert path is not None and video_packets(path) == video_packets(source)
