"""Plain HTTP files: segmented, adaptive multi-connection, resumable.

A ranged probe (``Range: bytes=N-``) learns size, validators and range support, and its
body becomes the first segment's stream. More connections split the largest remaining
segment in half while throughput keeps growing; a connection that finishes steals half
of the largest remaining segment, so no connection idles at the tail. Bytes go straight
to their offsets in a pre-sized ``.part`` file; the state file beside it records the
finished ranges. A server without ranges gets a single stream.

The probe goes through httpx (redirects, cookies, the guard); the segments after it are
read by connection threads on blocking sockets (:mod:`.rawhttp`) straight into the file,
unless a proxy is set; a connection whose answer needs httpx (a redirect, a chunked or
encoded body) goes on through httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from mediavault.config import Settings
from mediavault.errors import (
    CancelledError_,
    HTTPStatusError,
    IntegrityError,
    MediavaultError,
    RemoteChangedError,
)
from mediavault.models import Format
from mediavault.net.retry import RetryPolicy

from .files import PartFile, verify_checksum
from .ledger import Ledger
from .progress import ProgressTracker
from .rawhttp import Link, UnsuitableError
from .remote import Remote, check_length, parse_content_range
from .single import WRITE_BUFFER, single_stream
from .state import TransferState, part_path, remove_state, state_path
from .threaded import ThreadedRanges, open_threads
from .transport import FallbackError, Retrier, Transport, iter_body, pick_error, status_error

if TYPE_CHECKING:
    from . import FetchResult

__all__ = ["HttpDownload", "Remote"]

MIN_SPLIT = 1 << 20  # never split a segment into pieces smaller than this
PROBE_SIZE = 2 * MIN_SPLIT - 1  # the probe's range: small enough never to be split
INITIAL_CONNECTIONS = 4
TICK = 0.1
RAMP_INTERVAL = 0.4
RAMP_GAIN = 1.15  # keep adding connections while throughput grows by this factor
FLUSH_INTERVAL = 1.0  # save the resume state at least this often...
FLUSH_FRACTION = 0.02  # ...and whenever this much of the file arrived since the last save
MAX_RESTARTS = 3
RAW_BODIES = True  # segments through connection threads (tests switch it off to cover httpx)


class _RangesIgnoredError(FallbackError):
    """A range request was answered with the whole file: fall back to one stream."""


class _Segment:
    """Bytes ``[pos, end)`` one connection is responsible for; ``end`` may shrink."""

    __slots__ = ("end", "pos")

    def __init__(self, pos: int, end: int) -> None:
        self.pos = pos
        self.end = end

    @property
    def remaining(self) -> int:
        return self.end - self.pos


class HttpDownload:
    """One plain-file download into ``dest`` (via ``dest.part`` and its state file)."""

    def __init__(
        self,
        fmt: Format,
        dest: Path,
        *,
        transport: Transport,
        settings: Settings,
        tracker: ProgressTracker,
        connections: int,
        cancel: asyncio.Event | None,
    ) -> None:
        self.fmt = fmt
        self.dest = dest
        self.transport = transport
        self.settings = settings
        self.tracker = tracker
        self.max_connections = max(1, connections)
        self.cancel = cancel
        self.policy = RetryPolicy(attempts=settings.max_retries + 1)
        self.part_path = part_path(dest)
        self.state_path = state_path(dest)
        self.url = fmt.url
        # per attempt
        self._part: PartFile | None = None
        self._ledger: Ledger | None = None
        self._remote: Remote | None = None
        self._queue: deque[_Segment] = deque()
        self._active: list[_Segment] = []
        self._workers = 0
        self._idle = asyncio.Event()
        self._throttled = False
        self._tg: asyncio.TaskGroup | None = None
        self._raw: ThreadedRanges | None = None

    # entry point ---------------------------------------------------------------------
    async def run(self) -> FetchResult:
        for restart in range(MAX_RESTARTS + 1):
            try:
                return await self._attempt()
            except RemoteChangedError:
                if restart == MAX_RESTARTS:
                    raise
                self._discard()
            except _RangesIgnoredError:
                self._discard()
                return await self._single(None, None)
        raise AssertionError("unreachable")

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.part_path.unlink()
        remove_state(self.dest)
        self.tracker.downloaded = 0

    def _load_state(self) -> TransferState | None:
        if not self.part_path.exists():
            remove_state(self.dest)
            return None
        state = TransferState.load(self.state_path)
        if state is None or state.kind != "http" or not state.ranges or state.size is None:
            return None
        if self.part_path.stat().st_size != state.size:
            return None
        return state

    async def _attempt(self) -> FetchResult:
        state = self._load_state()
        gaps = state.done.gaps(state.size or 0) if state else []
        start, stop = gaps[0] if gaps else (0, None)
        probe_end = start + PROBE_SIZE if stop is None else min(start + PROBE_SIZE, stop)
        async with contextlib.AsyncExitStack() as stack:
            remote, response = await self._probe(stack, start, probe_end)
            if state is not None and not remote.same_as(state):
                raise RemoteChangedError(f"{self.url} changed since the last attempt")
            if not remote.ranges or remote.size is None:
                self._discard()
                return await self._single(remote, response)
            return await self._ranged(remote, response, state)

    # probe ---------------------------------------------------------------------------
    async def _probe(
        self, stack: contextlib.AsyncExitStack, start: int, end: int
    ) -> tuple[Remote, httpx.Response]:
        """Ask for ``[start, end)``; the answer tells size, validators and range support."""
        retrier = Retrier(self.policy, self.cancel)
        while True:
            try:
                async with contextlib.AsyncExitStack() as attempt:
                    response = await attempt.enter_async_context(
                        self.transport.stream(self.url, {"Range": f"bytes={start}-{end - 1}"})
                    )
                    remote = self._describe(response, start)
                    stack.push_async_exit(attempt.pop_all())
                    return remote, response
            except RemoteChangedError:
                raise
            except MediavaultError as exc:
                await retrier.wait(exc)

    def _describe(self, response: httpx.Response, start: int) -> Remote:
        status = response.status_code
        if status == 206:
            parsed = parse_content_range(response.headers.get("content-range"))
            if parsed is None or parsed[0] != start or parsed[2] is None:
                raise IntegrityError(f"bad Content-Range {response.headers.get('content-range')}")
            check_length(response, parsed[1] - parsed[0] + 1)
            return Remote.from_response(response, size=parsed[2], ranges=True)
        if status == 200:
            length = response.headers.get("content-length")
            size = int(length) if length and length.isdigit() else None
            return Remote.from_response(response, size=size, ranges=False)
        if status == 416:
            if start == 0:  # an empty file has no byte 0 to ask for
                raise _RangesIgnoredError()
            raise RemoteChangedError(f"range {start}- not satisfiable at {self.url}")
        raise status_error(response)

    # ranged, multi-connection ----------------------------------------------------------
    async def _ranged(
        self, remote: Remote, response: httpx.Response, state: TransferState | None
    ) -> FetchResult:
        size = remote.size
        assert size is not None
        self._remote = remote
        self.url = remote.url
        if state is None:
            state = TransferState(
                kind="http",
                url=self.fmt.url,
                etag=remote.etag,
                last_modified=remote.last_modified,
                size=size,
            )
        self._part = PartFile(self.part_path)
        ledger: Ledger | None = None
        try:
            if self._part.size() != size:
                self._part.truncate(size)
            self._ledger = ledger = Ledger(self._part, state, self.state_path)
            self.tracker.total = size
            self.tracker.downloaded = state.done.total()
            self._queue = deque(_Segment(s, e) for s, e in state.done.gaps(size))
            self._active = []
            if self._queue:
                self._raw = await self._open_raw()
                await self._run_workers(self._first_segment(response), response)
            await response.aclose()
            if not ledger.covers():
                raise IntegrityError(f"download of {self.url} ended incomplete")
            await self._part.sync()
            digest = await ledger.digest()
        except BaseException:
            if ledger is not None:
                ledger.abandon()
            raise
        finally:
            self._part.close()
            self._ledger = None
        return await self._finish(size, digest)

    def _first_segment(self, probe: httpx.Response) -> _Segment:
        """The probe's own range, cut from the front of the first gap."""
        parsed = parse_content_range(probe.headers.get("content-range"))
        assert parsed is not None
        head = self._queue[0]
        end = min(parsed[1] + 1, head.end)
        if end >= head.end:
            return self._queue.popleft()
        first = _Segment(head.pos, end)
        head.pos = end
        return first

    async def _run_workers(self, first: _Segment, response: httpx.Response) -> None:
        self._workers = 0
        self._idle = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._spawn(first, response)
                initial = min(self.max_connections, INITIAL_CONNECTIONS)
                for _ in range(initial - 1):
                    if not self._spawn_next():
                        break
                tg.create_task(self._supervise())
        except BaseExceptionGroup as group:
            raise pick_error(group) from None
        finally:
            self._tg = None
            if self._raw is not None:
                await self._raw.close()
                self._raw = None

    async def _open_raw(self) -> ThreadedRanges | None:
        """Connection threads for the segments, when nothing needs httpx."""
        if not RAW_BODIES or self._part is None:
            return None
        return await open_threads(
            self.transport, self.url, self._part.fd, self.settings, self.max_connections
        )

    def _spawn(self, seg: _Segment, response: httpx.Response | None) -> None:
        assert self._tg is not None
        self._workers += 1
        self._active.append(seg)
        self._tg.create_task(self._worker(seg, response))

    def _spawn_next(self) -> bool:
        seg = self._next_segment()
        if seg is None:
            return False
        self._spawn(seg, None)
        return True

    def _next_segment(self) -> _Segment | None:
        if self._queue:
            return self._queue.popleft()
        if not self._active:
            return None
        victim = max(self._active, key=lambda s: s.remaining)
        if victim.remaining < 2 * MIN_SPLIT:
            return None
        mid = victim.pos + victim.remaining // 2
        stolen = _Segment(mid, victim.end)
        victim.end = mid
        return stolen

    async def _worker(self, seg: _Segment, response: httpx.Response | None) -> None:
        current: _Segment | None = seg
        link = self._raw.link() if self._raw is not None else None
        try:
            while current is not None:
                await self._fill(current, response, link)
                response = None
                self._active.remove(current)
                current = self._next_segment()
                if current is not None:
                    self._active.append(current)
        finally:
            self._workers -= 1
            if self._workers == 0:
                self._idle.set()

    async def _fill(
        self, seg: _Segment, response: httpx.Response | None, link: Link | None
    ) -> None:
        assert self._remote is not None
        retrier = Retrier(self.policy, self.cancel)
        while seg.pos < seg.end:
            before = seg.pos
            try:
                if response is not None:
                    try:
                        await self._read(seg, response)
                    finally:
                        await response.aclose()
                        response = None
                elif link is not None and self._raw is not None:
                    await self.transport.session.rate_limiter.acquire(self._raw.reader.host)
                    await self._raw.read(
                        link,
                        seg,
                        self._remote.if_range(),
                        lambda resp: self._check_partial(seg, resp),
                        self._landed,
                    )
                else:
                    headers = {"Range": f"bytes={seg.pos}-{seg.end - 1}", **self._remote.if_range()}
                    async with self.transport.stream(self.url, headers) as resp:
                        await self._read(seg, resp)
            except RemoteChangedError:
                raise
            except UnsuitableError:
                link = None  # this server's answers need httpx
            except MediavaultError as exc:
                if seg.pos > before:
                    retrier.progressed()
                if isinstance(exc, HTTPStatusError) and exc.status_code in (429, 503):
                    self._throttled = True
                await retrier.wait(exc)

    async def _read(self, seg: _Segment, response: httpx.Response) -> None:
        self._check_partial(seg, response)
        chunks: list[bytes] = []
        buffered = 0
        start = seg.pos
        try:
            async for chunk in iter_body(response, self.settings.stall_timeout):
                room = seg.end - seg.pos
                if len(chunk) > room:
                    chunk = chunk[:room]
                chunks.append(chunk)
                buffered += len(chunk)
                seg.pos += len(chunk)
                self.tracker.add(len(chunk))  # progress as bytes arrive, not per write
                if buffered >= WRITE_BUFFER:
                    await self._write(chunks, start)
                    chunks, buffered, start = [], 0, seg.pos
                if seg.pos >= seg.end:
                    return
        finally:
            if chunks:
                await self._write(chunks, start)
        if seg.pos < seg.end:
            raise IntegrityError(f"body from {self.url} ended early at byte {seg.pos}")

    def _check_partial(self, seg: _Segment, response: httpx.Response) -> int:
        """Raise unless ``response`` is the 206 for ``seg``; returns its body length."""
        assert self._remote is not None
        status = response.status_code
        if status == 200:
            fresh = Remote.from_response(response, size=self._remote.size, ranges=False)
            if (fresh.etag, fresh.last_modified) != (self._remote.etag, self._remote.last_modified):
                raise RemoteChangedError(f"{self.url} changed during the download")
            raise _RangesIgnoredError()
        if status == 416:
            raise RemoteChangedError(f"{self.url} shrank during the download")
        if status != 206:
            raise status_error(response)
        parsed = parse_content_range(response.headers.get("content-range"))
        if parsed is None or parsed[0] != seg.pos:
            raise IntegrityError(f"bad Content-Range {response.headers.get('content-range')}")
        if parsed[2] != self._remote.size:
            raise RemoteChangedError(f"{self.url} changed size during the download")
        check_length(response, parsed[1] - parsed[0] + 1)
        return parsed[1] - parsed[0] + 1

    def _landed(self, offset: int, n: int) -> None:
        """A connection thread wrote ``n`` bytes at ``offset``."""
        assert self._ledger is not None
        self._ledger.landed(offset, n)
        self.tracker.add(n)

    async def _write(self, chunks: list[bytes], offset: int) -> None:
        assert self._ledger is not None
        await self._ledger.write(chunks, offset)

    async def _supervise(self) -> None:
        """Cancellation, progress, periodic state saves and the connection ramp-up."""
        last_ramp = last_flush = time.monotonic()
        flushed_at = self.tracker.fetched
        flush_bytes = max(MIN_SPLIT, int((self.tracker.total or 0) * FLUSH_FRACTION))
        ramp_bytes = self.tracker.fetched
        prev_rate: float | None = None
        growing = self.max_connections > self._workers
        while self._workers > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK):
                    await self._idle.wait()
            if self.cancel is not None and self.cancel.is_set():
                raise CancelledError_("download cancelled")
            self.tracker.maybe_emit()
            now = time.monotonic()
            if (
                now - last_flush >= FLUSH_INTERVAL
                or self.tracker.fetched - flushed_at >= flush_bytes
            ):
                flushed_at = self.tracker.fetched
                if self._ledger is not None:
                    await self._ledger.save()
                last_flush = now
            if growing and now - last_ramp >= RAMP_INTERVAL:
                rate = (self.tracker.fetched - ramp_bytes) / (now - last_ramp)
                if self._throttled or (prev_rate is not None and rate < prev_rate * RAMP_GAIN):
                    growing = False
                else:
                    growing = self._grow()
                prev_rate, ramp_bytes, last_ramp = rate, self.tracker.fetched, now

    def _grow(self) -> bool:
        """Double the connections (up to the maximum); False when no more can be added."""
        wanted = min(self.max_connections, self._workers * 2) - self._workers
        for _ in range(wanted):
            if not self._spawn_next():
                return False
        return self._workers < self.max_connections

    # single stream ---------------------------------------------------------------------
    async def _single(self, remote: Remote | None, response: httpx.Response | None) -> FetchResult:
        """One connection from byte 0; a failure starts over (the server cannot resume)."""
        remove_state(self.dest)
        return await single_stream(
            self.transport,
            self.url,
            self.part_path,
            response,
            policy=self.policy,
            stall_timeout=self.settings.stall_timeout,
            tracker=self.tracker,
            cancel=self.cancel,
            finish=self._finish,
        )

    # the end -------------------------------------------------------------------------
    async def _finish(self, size: int, sha256: str | None) -> FetchResult:
        from . import FetchResult

        actual = self.part_path.stat().st_size
        if actual != size:
            raise IntegrityError(f"{self.part_path} has {actual} bytes, expected {size}")
        try:
            verified = await verify_checksum(self.part_path, self.fmt, sha256)
        except IntegrityError:
            self._discard()
            raise
        os.replace(self.part_path, self.dest)
        remove_state(self.dest)
        return FetchResult(path=self.dest, size=size, sha256=verified or sha256)
