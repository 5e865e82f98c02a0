"""A local HTTP origin for tests and benchmarks (SPEC §6).

Serves files from a directory with HTTP/1.1 keep-alive, Range requests, ETag and
Last-Modified, per-connection throttling and injectable faults. Dynamic routes can be
added for generated content (HTML pages, feeds). Loopback only.

    with Origin(root) as origin:
        origin.faults["/big.mp4"] = Fault(status=[503, 503], retry_after=1)
        url = origin.url("/big.mp4")
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import os
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

CHUNK = 256 * 1024

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("application/dash+xml", ".mpd")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("video/iso.segment", ".m4s")
mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("application/rss+xml", ".rss")


@dataclass
class Fault:
    """Faults applied to the next ``count`` requests of a path (None = every request).

    status:      statuses answered in turn before serving normally (e.g. [503, 429])
    retry_after: seconds sent in Retry-After with those statuses
    reset_after: close the connection abruptly after this many body bytes
    truncate_at: send the full headers but stop the body after this many bytes, cleanly
    stall_after: stop sending for ``stall_seconds`` after this many body bytes
    lie_length:  add this to Content-Length (the body stays true)
    no_ranges:   ignore Range and answer 200 with the whole file
    skip:        let this many requests through unharmed before the fault applies
    """

    status: list[int] = field(default_factory=list)
    retry_after: float | None = None
    reset_after: int | None = None
    truncate_at: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 30.0
    lie_length: int = 0
    no_ranges: bool = False
    count: int | None = None
    skip: int = 0


Handler = Callable[["OriginRequest"], tuple[int, dict[str, str], bytes]]


@dataclass
class OriginRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Origin:
    def __init__(
        self,
        root: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.scheme = "https" if tls is not None else "http"
        self.faults: dict[str, Fault] = {}
        self.routes: dict[str, Handler] = {}
        self.throttle: dict[str, int] = {}  # path prefix -> bytes/s per connection ("" = all)
        self.supports_ranges = True
        self.requests: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.log: list[tuple[str, str, str | None]] = []  # method, path, Range
        self.headers_seen: list[dict[str, str]] = []  # every request's headers, in order
        self.connections = 0  # TCP connections accepted
        self._lock = threading.Lock()
        self._server = _Server((host, port), _make_handler(self))
        if tls is not None:  # the handshake happens in each connection's own thread
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------
    def start(self) -> Origin:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Origin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # helpers -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent.clear()
            self.log.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(path)
            if fault is None:
                return None
            if fault.skip > 0:
                fault.skip -= 1
                return None
            if fault.count is not None:
                if fault.count <= 0:
                    return None
                fault.count -= 1
            return fault

    def rate_for(self, path: str) -> int:
        best = 0
        best_len = -1
        for prefix, rate in self.throttle.items():
            if path.startswith(prefix) and len(prefix) > best_len:
                best, best_len = rate, len(prefix)
        return best

    def record(
        self, method: str, path: str, rng: str | None, headers: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self.requests[path] += 1
            self.log.append((method, path, rng))
            self.headers_seen.append(headers or {})

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def add_bytes(self, path: str, n: int) -> None:
        with self._lock:
            self.bytes_sent[path] += n


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _make_handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mediavault-test-origin"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def setup(self) -> None:
            origin.count_connection()
            super().setup()

        def do_HEAD(self) -> None:
            self._handle(head=True)

        def do_GET(self) -> None:
            self._handle(head=False)

        def do_POST(self) -> None:
            self._handle(head=False)

        def _handle(self, *, head: bool) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)  # as web servers map a request to a file
            origin.record(self.command, path, self.headers.get("Range"), dict(self.headers.items()))
            fault = origin.take_fault(path)
            if fault and fault.status:
                status = fault.status.pop(0)
                extra = {}
                if fault.retry_after is not None:
                    extra["Retry-After"] = str(int(fault.retry_after))
                self._send_simple(status, b"injected fault", extra)
                return
            if path in origin.routes:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = OriginRequest(self.command, path, parts.query, dict(self.headers), body)
                status, headers, payload = origin.routes[path](req)
                self._send_simple(status, b"" if head else payload, headers, head_len=len(payload))
                return
            self._serve_file(path, fault, head=head)

        def _send_simple(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str],
            head_len: int | None = None,
        ) -> None:
            self.send_response(status)
            headers = {"Content-Type": "text/plain", **headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(head_len if head_len is not None else len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve_file(self, path: str, fault: Fault | None, *, head: bool) -> None:
            target = (origin.root / path.lstrip("/")).resolve()
            if not str(target).startswith(str(origin.root)) or not target.is_file():
                self._send_simple(404, b"not found", {})
                return
            stat = target.stat()
            size = stat.st_size
            etag = '"' + hashlib.md5(f"{stat.st_mtime_ns}-{size}".encode()).hexdigest() + '"'
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range")
            ranges_ok = origin.supports_ranges and not (fault and fault.no_ranges)
            if rng and ranges_ok:
                parsed = _parse_range(rng, size)
                if parsed is None:
                    self._send_simple(416, b"", {"Content-Range": f"bytes */{size}"})
                    return
                start, end = parsed
                status = 206
            if_range = self.headers.get("If-Range")
            if status == 206 and if_range and if_range != etag:
                start, end, status = 0, size - 1, 200
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(length + (fault.lie_length if fault else 0)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            if ranges_ok:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if head:
                return
            self._send_body(target, path, start, length, fault)

        def _send_body(
            self, target: Path, path: str, start: int, length: int, fault: Fault | None
        ) -> None:
            rate = origin.rate_for(path)
            sent = 0
            began = time.monotonic()
            stalled = False
            limit = length
            if fault and fault.truncate_at is not None:
                limit = min(limit, fault.truncate_at)
            if fault and fault.reset_after is not None:
                limit = min(limit, fault.reset_after)
            with open(target, "rb") as fh:
                fh.seek(start)
                while sent < limit:
                    if fault and fault.stall_after is not None and not stalled and sent >= fault.stall_after:
                        stalled = True
                        time.sleep(fault.stall_seconds)
                    want = min(CHUNK if not rate else max(rate // 20, 1024), limit - sent)
                    if fault and fault.stall_after is not None and not stalled:
                        want = min(want, max(fault.stall_after - sent, 1))
                    data = fh.read(want)
                    if not data:
                        break
                    try:
                        self.wfile.write(data)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    sent += len(data)
                    origin.add_bytes(path, len(data))
                    if rate:
                        ahead = sent / rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
            if fault and fault.reset_after is not None and sent >= fault.reset_after:
                self._reset()
            elif fault and (fault.truncate_at is not None or fault.lie_length):
                self.close_connection = True

        def _reset(self) -> None:
            try:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.close()
            except OSError:
                pass
            self.close_connection = True

    return RequestHandler


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        n = int(last)
        if n == 0:
            return None
        return max(size - n, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def serve_forever(root: str, port: int) -> None:  # pragma: no cover - manual use
    with Origin(root, port=port) as origin:
        print(origin.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    import sys

    serve_forever(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    os._exit(0)
