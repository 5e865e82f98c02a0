"""Connection threads: the blocking readers of :mod:`.rawhttp`, driven from asyncio.

A download opens a :class:`ThreadedRanges` for its origin; each of its connection tasks
takes a :class:`~.rawhttp.Link` (a kept-alive socket) and runs one request at a time on
it in the pool's threads: a range straight into the ``.part`` file (:meth:`read`), or a
fragment's bytes (:meth:`fetch`). Closing stops every thread promptly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from mediavault.config import Settings
from mediavault.errors import IntegrityError, MediavaultError
from mediavault.net.errors import status_error

from .rawhttp import Link, RangeReader, UnsuitableError
from .transport import Transport

__all__ = ["Span", "ThreadedRanges", "open_threads"]


class Span(Protocol):
    """A segment of the file: ``pos`` advances as bytes land, ``end`` may move closer."""

    pos: int
    end: int


class ThreadedRanges:
    """The connection threads of one download, each with its own kept-alive :class:`Link`.

    The reader writes through its own duplicate of the part file's descriptor, so a
    thread still finishing after :meth:`close` (one stuck in ``connect``, say) can never
    write into a descriptor number the process has reused.
    """

    def __init__(self, reader: RangeReader, threads: int) -> None:
        self.reader = reader
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="mediavault-http"
        )
        self._links: list[Link] = []

    def link(self) -> Link:
        link = self.reader.link()
        self._links.append(link)
        return link

    async def read(
        self,
        link: Link,
        span: Span,
        if_range: Mapping[str, str],
        check: Callable[[httpx.Response], int],
        landed: Callable[[int, int], None],
    ) -> None:
        """Fetch ``[span.pos, span.end)`` on ``link`` in a connection thread.

        ``check`` validates the response head (raising the engine's errors) and returns
        the body length; ``landed(offset, n)`` runs on the event loop after each write,
        ``span.pos`` is advanced by the thread itself.
        """
        loop = asyncio.get_running_loop()

        def on_landed(offset: int, n: int) -> None:
            span.pos = offset + n
            loop.call_soon_threadsafe(landed, offset, n)

        def run() -> None:
            head = self.reader.request(link, span.pos, span.end, dict(if_range))
            try:
                if 300 <= head.status < 400:
                    raise UnsuitableError()
                length = check(head.response(self.reader.url))
            except BaseException:
                link.drop()
                raise
            self.reader.read_body(link, head, span.pos, lambda: span.end, length, on_landed)

        await loop.run_in_executor(self._pool, run)

    async def fetch(
        self,
        link: Link,
        url: str,
        headers: Sequence[tuple[str, str]],
        byte_range: tuple[int, int] | None,
    ) -> bytes:
        """The body of ``url`` (``byte_range``: inclusive first and last byte) in a thread.

        A server that ignores the range answers 200: the range is cut out of the body.
        Raises ``UnsuitableError`` for a body without a length or with an encoding."""

        def run() -> bytes:
            start, end = byte_range if byte_range is not None else (None, None)
            head = self.reader.request(
                link, start, None if end is None else end + 1, {}, url=url, headers=headers
            )
            length = head.headers.get("content-length", "")
            encoded = head.headers.get("content-encoding", "identity").lower() != "identity"
            if head.status not in (200, 206) or head.headers.get("transfer-encoding") or encoded:
                link.drop()
                if head.status in (200, 206) or 300 <= head.status < 400:
                    raise UnsuitableError()
                raise status_error(head.response(url))
            if not length.isdigit():
                link.drop()
                raise UnsuitableError()
            data = self.reader.read_bytes(link, head, int(length))
            if byte_range is None:
                return data
            want = byte_range[1] - byte_range[0] + 1
            skip = byte_range[0] if head.status == 200 else 0
            data = data[skip : skip + want]
            if len(data) != want:
                raise IntegrityError(f"fragment {url} gave {len(data)} of {want} bytes")
            return data

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def close(self, grace: float = 1.0) -> None:
        """Stop every thread; wait up to ``grace`` s (the rest finish on their own)."""
        self.reader.stop()

        def teardown() -> None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            for link in self._links:
                link.close()
            self.reader.close()

        done = asyncio.get_running_loop().run_in_executor(None, teardown)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await asyncio.shield(done)


async def open_threads(
    transport: Transport, url: str, fd: int, settings: Settings, threads: int
) -> ThreadedRanges | None:
    """Connection threads for ``url``'s origin, writing into ``fd`` (-1: none); None when
    the requests need httpx (a proxy, a scheme other than http/https, a host the policy
    refuses: httpx then reports it with its own checks)."""
    session = transport.session
    if session.proxy or urlsplit(url).scheme not in ("http", "https"):
        return None
    try:
        addrs = await session.policy.check_url(url)
    except MediavaultError:
        return None
    reader = RangeReader(
        url,
        request_headers(transport, url),
        addrs,
        fd=fd,
        connect_timeout=settings.connect_timeout,
        stall_timeout=settings.stall_timeout,
    )
    return ThreadedRanges(reader, threads)


def request_headers(transport: Transport, url: str) -> list[tuple[str, str]]:
    """The headers httpx would send for ``GET url``: the session's, its cookies for the
    URL, the format's own."""
    request = transport.session.client.build_request("GET", url, headers=transport.headers)
    return request.headers.multi_items()
