"""Benchmark fixtures: the media files and a fast loopback origin.

The test origin (tests/support/origin.py) copies bytes through Python threads and is
the bottleneck unthrottled, so the benchmarks use this one: asyncio + ``os.sendfile``,
HTTP/1.1 keep-alive, Range, ETag, and an optional per-connection rate limit.

    python benchmarks/_origin_setup.py serve ROOT RATE_BYTES_PER_S   # prints the port
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import mimetypes
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


# media --------------------------------------------------------------------------------


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def make_big_mp4(path: Path, size: int) -> None:
    """A real 2 s MP4 (ftyp/moov/mdat from ffmpeg) followed by a ``free`` box of random
    bytes up to ``size``: a valid MP4 file whose payload is incompressible."""
    if path.exists() and path.stat().st_size == size:
        return
    head = path.with_suffix(".head.mp4")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart", str(head))
    data = head.read_bytes()
    head.unlink()
    pad = size - len(data)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.write(pad.to_bytes(4, "big") + b"free")
        left = pad - 8
        while left > 0:
            block = os.urandom(min(left, 16 << 20))
            fh.write(block)
            left -= len(block)


def make_hls(root: Path, seconds: int) -> Path:
    """An HLS stream of 1 s TS segments (``seconds`` of them) at a high bitrate."""
    playlist = root / "index.m3u8"
    if playlist.exists():
        return playlist
    root.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "12", "-g", "25",
            "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(root / "seg%04d.ts"), str(playlist))
    return playlist


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            hasher.update(block)
    return hasher.hexdigest()


# the fast origin ------------------------------------------------------------------------


class FastOrigin:
    def __init__(self, root: Path, rate: int) -> None:
        self.root = root.resolve()
        self.rate = rate

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except RuntimeError as exc:  # sendfile on a transport the client has closed
            if "closing" not in str(exc):
                raise
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        path = (self.root / target.split("?")[0].lstrip("/")).resolve()
        if not str(path).startswith(str(self.root)) or not path.is_file():
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return True
        stat = path.stat()
        size = stat.st_size
        start, end, status = 0, size - 1, "200 OK"
        match = _RANGE.fullmatch(headers.get("range", ""))
        if match and size:
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            elif last:
                start = max(size - int(last), 0)
            status = "206 Partial Content"
        length = end - start + 1
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        out = [
            f"HTTP/1.1 {status}",
            f"Content-Length: {length}",
            f"Content-Type: {mimetypes.guess_type(path.name)[0] or 'application/octet-stream'}",
            "Accept-Ranges: bytes",
            f"ETag: {etag}",
            f"Last-Modified: {email.utils.formatdate(stat.st_mtime, usegmt=True)}",
        ]
        if status.startswith("206"):
            out.append(f"Content-Range: bytes {start}-{end}/{size}")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode())
        await writer.drain()
        if method != "HEAD" and length > 0:
            await self._body(writer, path, start, length)
        return True

    async def _body(self, writer: asyncio.StreamWriter, path: Path, start: int, length: int) -> None:
        loop = asyncio.get_running_loop()
        with open(path, "rb") as fh:
            if not self.rate:
                await loop.sendfile(writer.transport, fh, start, length)
                return
            began = time.monotonic()
            sent = 0
            step = max(self.rate // 20, 16 * 1024)
            while sent < length:
                count = min(step, length - sent)
                await loop.sendfile(writer.transport, fh, start + sent, count)
                sent += count
                ahead = sent / self.rate - (time.monotonic() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)


async def _serve(root: Path, rate: int) -> None:
    origin = FastOrigin(root, rate)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(origin.handle, sock=sock, backlog=256)
    print(sock.getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class OriginProcess:
    """The fast origin in a child process (its own core, its own GIL)."""

    def __init__(self, root: Path, rate: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", str(root), str(rate)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> OriginProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "serve":
    asyncio.run(_serve(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0))
