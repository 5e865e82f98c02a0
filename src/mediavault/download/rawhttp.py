"""Requests on blocking sockets: the body path of segmented and fragment downloads.

httpx reads a body in 64 KiB pieces through h11 and the event loop, a few microseconds
of Python each; at LAN or loopback speed that, not the network, bounds a download. Here
each connection belongs to one thread: it sends the range request, parses the response
head, and moves the body into the ``.part`` file with ``recv_into`` + ``pwrite`` in
1 MiB steps (or into one buffer, for a fragment), both of which release the GIL.
(``splice`` through a pipe, which keeps the bytes out of user space, measured no
faster here, so the copy stays.)

Nothing about the request changes: its headers (User-Agent, cookies, the format's own
headers) are the session's, built by httpx; the addresses are the host policy's
(approved once, then pinned, as for every other connection); the caller asks the rate
limiter before each request. Anything unusual - a proxy, a redirect, a chunked or
encoded body - is left to httpx (:class:`UnsuitableError`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

import httpx

from mediavault.errors import (
    CancelledError_,
    IntegrityError,
    NetworkError,
    TimeoutError_,
)
from mediavault.net.errors import translate_error
from mediavault.net.transport import tls_context

__all__ = ["Head", "Link", "RangeReader", "UnsuitableError"]

BODY_STEP = 1 << 20  # bytes per recv: never more than the engine's smallest split
MAX_HEAD = 64 * 1024
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: (.*))?$")


class UnsuitableError(Exception):
    """This response is not a plain range body: let httpx handle the request."""


@dataclass(frozen=True)
class Head:
    """A response's status line and headers; ``extra`` holds body bytes read with them."""

    status: int
    reason: str
    headers: httpx.Headers
    extra: bytes
    keep_alive: bool

    def response(self, url: str) -> httpx.Response:
        """An (unread) httpx response carrying this head, for the engine's shared checks."""
        return httpx.Response(
            self.status,
            headers=self.headers,
            request=httpx.Request("GET", url),
            extensions={"reason_phrase": self.reason.encode("latin-1", "replace")},
        )


class Link:
    """One keep-alive connection; used by one thread at a time."""

    def __init__(self, reader: RangeReader) -> None:
        self.reader = reader
        self.sock: socket.socket | None = None

    def connect(self) -> socket.socket:
        if self.sock is not None:
            return self.sock
        r = self.reader
        last: OSError | None = None
        for addr in r.addrs:
            family = socket.AF_INET6 if isinstance(addr, IPv6Address) else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(r.connect_timeout)
                sock.connect((str(addr), r.port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if r.tls:
                    sock = tls_context().wrap_socket(sock, server_hostname=r.host)
                sock.settimeout(r.stall_timeout)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            self.sock = sock
            r.track(sock)
            return sock
        assert last is not None
        raise last

    def drop(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.sock is not None:
            self.reader.untrack(self.sock)
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def close(self) -> None:
        self.drop()


class RangeReader:
    """Blocking requests to one URL's origin: ranges written straight into ``fd``
    (:meth:`read_body`), or whole bodies returned (:meth:`read_bytes`).

    ``headers`` are the full request headers but ``Range``; ``addrs`` the approved
    addresses of the URL's host. :meth:`stop` makes every thread in a read return
    promptly (its sockets are shut down) with ``CancelledError_``.
    """

    def __init__(
        self,
        url: str,
        headers: Sequence[tuple[str, str]],
        addrs: Sequence[IPv4Address | IPv6Address],
        *,
        fd: int,
        connect_timeout: float,
        stall_timeout: float,
    ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.origin = (parts.scheme, self.host, self.port)
        self.netloc = parts.netloc.rsplit("@", 1)[-1]
        self.target = _target(url)
        self.addrs = list(addrs)
        self.fd = os.dup(fd) if fd >= 0 else -1
        self.connect_timeout = connect_timeout
        self.stall_timeout = stall_timeout
        self._header_block = self._headers(headers)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()

    # lifecycle -----------------------------------------------------------------------
    def link(self) -> Link:
        return Link(self)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)
        if self._stopped.is_set():
            self._shut(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            self._shut(sock)

    def close(self) -> None:
        """Release the descriptor (after every thread has finished)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _check_stop(self) -> None:
        if self._stopped.is_set():
            raise CancelledError_("download cancelled")

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        return (parts.scheme, parts.hostname or "", parts.port or (443 if tls else 80)) == (
            self.origin
        )

    def _headers(self, headers: Sequence[tuple[str, str]]) -> str:
        skip = {"range", "if-range", "connection", "host"}
        lines = [f"Host: {self.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in skip]
        lines.append("Connection: keep-alive")
        return "\r\n".join(lines)

    # one request ---------------------------------------------------------------------
    def request(
        self,
        link: Link,
        start: int | None,
        end: int | None,
        extra: Mapping[str, str],
        *,
        url: str | None = None,
        headers: Sequence[tuple[str, str]] | None = None,
    ) -> Head:
        """Send ``GET`` on ``link`` and read the response head: for ``[start, end)`` when
        given, for ``url`` (same origin) and with ``headers`` instead of the reader's own
        when given."""
        self._check_stop()
        fresh = link.sock is None
        try:
            sock = link.connect()
            target = self.target if url is None else _target(url)
            block = self._header_block if headers is None else self._headers(headers)
            lines = [f"GET {target} HTTP/1.1", block]
            if start is not None and end is not None:
                lines.append(f"Range: bytes={start}-{end - 1}")
            lines += [f"{k}: {v}" for k, v in extra.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return self._read_head(sock)
        except _StaleLinkError:
            link.drop()
            if fresh:
                raise NetworkError(f"connection to {self.host} closed before a response") from None
            # a kept-alive link had expired: once more on a new one
            return self.request(link, start, end, extra, url=url, headers=headers)
        except BaseException as exc:
            link.drop()
            raise self._error(exc) from exc

    def _read_head(self, sock: socket.socket) -> Head:
        buf = bytearray()
        while True:
            chunk = sock.recv(16384)
            if not chunk:
                if not buf:
                    raise _StaleLinkError()
                raise NetworkError(f"connection to {self.host} closed inside a response head")
            buf += chunk
            while (cut := buf.find(b"\r\n\r\n")) >= 0:
                head = self._parse_head(bytes(buf[:cut]), bytes(buf[cut + 4 :]))
                if not 100 <= head.status < 200 or head.status == 101:
                    return head
                del buf[: cut + 4]  # an interim answer (100 Continue, 103 Early Hints)
            if len(buf) > MAX_HEAD:
                raise NetworkError(f"response head from {self.host} over {MAX_HEAD} bytes")

    def _parse_head(self, raw: bytes, extra: bytes) -> Head:
        lines = raw.split(b"\r\n")
        match = _STATUS_LINE.match(lines[0])
        if match is None:
            raise NetworkError(f"malformed status line from {self.host}: {lines[0][:80]!r}")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name[:1] in (b" ", b"\t"):
                raise NetworkError(f"malformed header line from {self.host}: {line[:80]!r}")
            headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
        parsed = httpx.Headers(headers)
        keep = parsed.get("connection", "").lower() != "close" and lines[0].startswith(b"HTTP/1.1")
        reason = (match.group(2) or b"").decode("latin-1")
        return Head(int(match.group(1)), reason, parsed, extra, keep)

    def read_body(
        self,
        link: Link,
        head: Head,
        pos: int,
        stop_at: Callable[[], int],
        length: int,
        landed: Callable[[int, int], None],
    ) -> int:
        """Write the ``length``-byte body of ``head`` from file offset ``pos`` on.

        ``stop_at()`` is read before every step: the segment's end, which another
        connection may move closer. ``landed(offset, n)`` runs after each write. Returns
        the new position; the link stays open only when the body was read to its end.
        """
        if head.headers.get("transfer-encoding") or head.headers.get(
            "content-encoding", "identity"
        ).lower() not in ("identity", ""):
            link.drop()
            raise UnsuitableError()
        sock = link.sock
        assert sock is not None
        body_end = pos + length
        try:
            if head.extra:
                take = min(len(head.extra), stop_at() - pos, body_end - pos)
                if take > 0:
                    _pwrite_all(self.fd, memoryview(head.extra)[:take], pos)
                    landed(pos, take)
                    pos += take
            pos = self._copy_body(sock, pos, stop_at, body_end, landed)
        except BaseException as exc:
            link.drop()
            raise self._error(exc) from exc
        if pos < body_end or not head.keep_alive or len(head.extra) > length:
            link.drop()  # unread body bytes (the segment shrank) poison the connection
        return pos

    def read_bytes(self, link: Link, head: Head, length: int) -> bytes:
        """The whole ``length``-byte body of ``head`` (a fragment: small enough to hold)."""
        if len(head.extra) > length:
            link.drop()
            raise IntegrityError(f"more body than Content-Length {length} from {self.host}")
        sock = link.sock
        assert sock is not None
        buf = bytearray(length)
        view = memoryview(buf)
        got = len(head.extra)
        view[:got] = head.extra
        try:
            while got < length:
                self._check_stop()
                n = sock.recv_into(view[got:], min(BODY_STEP, length - got))
                if n == 0:
                    raise IntegrityError(
                        f"body from {self.host} ended after {got} of {length} bytes"
                    )
                got += n
        except BaseException as exc:
            link.drop()
            raise self._error(exc) from exc
        if not head.keep_alive:
            link.drop()
        return bytes(buf)

    def _copy_body(
        self,
        sock: socket.socket,
        pos: int,
        stop_at: Callable[[], int],
        body_end: int,
        landed: Callable[[int, int], None],
    ) -> int:
        buf = bytearray(BODY_STEP)
        view = memoryview(buf)
        while True:
            want = min(BODY_STEP, stop_at() - pos, body_end - pos)
            if want <= 0:
                return pos
            self._check_stop()
            got = sock.recv_into(view[:want])
            if got == 0:
                raise IntegrityError(f"body from {self.url} ended early at byte {pos}")
            _pwrite_all(self.fd, view[:got], pos)
            landed(pos, got)
            pos += got

    def _error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, (CancelledError_, UnsuitableError)):
            return exc
        if self._stopped.is_set():
            return CancelledError_("download cancelled")
        if isinstance(exc, TimeoutError):
            return TimeoutError_(f"stalled: no data for {self.stall_timeout:g}s from {self.url}")
        if isinstance(exc, (OSError, ssl.SSLError)):
            return translate_error(exc)
        return exc


def _target(url: str) -> str:
    """The request target (path and query) exactly as httpx sends it: characters a URI
    cannot hold (spaces, non-ASCII) percent-encoded, valid escapes kept."""
    return httpx.URL(url).raw_path.decode("ascii")


class _StaleLinkError(Exception):
    """The server closed a kept-alive connection before answering."""


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data = data[written:]
        offset += written
