"""The fragment engine: HLS/DASH fragments fetched concurrently, written in order.

Up to ``connections`` fragments are in flight, and fragments are fetched ahead of the
write position up to ``2 * connections`` of them, or more while those waiting to be
written hold less than ``AHEAD_BYTES`` (12 MB): memory is bounded by that window whatever the
stream's length. The writer appends every consecutive fragment that is ready in one
write. Fragments are appended to ``dest.part`` in order; the state file
records how many fragments (and bytes) are in it, so a re-run truncates to that point
and continues. At the end the concatenation is remuxed to ``fmt.ext`` with ffmpeg.

A fragment answered 404 is asked for again a few times (``MISSING_RETRIES``: CDN edges
miss what their origin has) before the download fails naming the fragment; other
failures are retried as any transfer is. A fragment sent with a Content-Encoding
although identity was asked for (objects stored gzipped) is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mediavault.config import Settings
from mediavault.errors import (
    CancelledError_,
    HTTPStatusError,
    IntegrityError,
    MediavaultError,
)
from mediavault.models import Format
from mediavault.net.retry import RetryPolicy

from .files import PartFile
from .hls import FragmentPlan, FragmentSpec
from .progress import ProgressTracker
from .rawhttp import Link, UnsuitableError
from .remux import LiveRemux, remux
from .state import TransferState, part_path, remove_state, state_path
from .threaded import ThreadedRanges, open_threads, request_headers
from .transport import Retrier, Transport, iter_body, pick_error, status_error

if TYPE_CHECKING:
    from . import FetchResult

__all__ = ["FragmentDownload", "decrypt_aes128"]

TICK = 0.1
FLUSH_INTERVAL = 1.0
AHEAD_BYTES = 12 << 20  # fragments held past the window while they fit in this
MAX_AHEAD = 256  # ...and never more fragments ahead of the writer than this
WRITE_BATCH = 4 << 20  # consecutive ready fragments written together, up to this
MISSING_RETRIES = 2  # a fragment answered 404 is asked for again this many times


def decrypt_aes128(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-128-CBC with PKCS#7 padding, as HLS encrypts whole segments."""
    if len(data) % 16:
        raise IntegrityError(f"encrypted fragment of {len(data)} bytes is not block-aligned")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError as exc:
        raise IntegrityError("bad padding after AES-128 decryption (wrong key?)") from exc


class FragmentDownload:
    def __init__(
        self,
        fmt: Format,
        dest: Path,
        plan: FragmentPlan,
        *,
        transport: Transport,
        settings: Settings,
        tracker: ProgressTracker,
        connections: int,
        cancel: asyncio.Event | None,
    ) -> None:
        self.fmt = fmt
        self.dest = dest
        self.plan = plan
        self.transport = transport
        self.settings = settings
        self.tracker = tracker
        self.connections = max(1, connections)
        self.window = 2 * self.connections
        self.cancel = cancel
        self.policy = RetryPolicy(attempts=settings.max_retries + 1)
        self.part_path = part_path(dest)
        self.state_path = state_path(dest)
        self._ready: dict[int, bytes] = {}
        self._ready_bytes = 0
        self._cond = asyncio.Condition()
        self._next_fetch = 0
        self._next_write = 0
        self._offset = 0
        self._done = asyncio.Event()
        self._live: LiveRemux | None = None
        self._raw: ThreadedRanges | None = None

    async def run(self) -> FetchResult:
        from . import FetchResult

        total = len(self.plan.fragments)
        state = self._load_state()
        part = PartFile(self.part_path)
        try:
            if state is None:
                state = TransferState(
                    kind="fragments", url=self.fmt.url, signature=self.plan.signature
                )
            part.truncate(state.offset)
            self._next_fetch = self._next_write = state.fragments_done
            self._offset = state.offset
            self.tracker.fragments_total = total
            self.tracker.fragments_done = state.fragments_done
            self.tracker.downloaded = state.offset
            if state.fragments_done == 0:
                self._live = await LiveRemux.start(self.dest, self.plan.container, self.settings)
            try:
                if self._next_write < total:
                    await self._run_all(part, state)
                await part.sync()
            finally:
                self._save(part, state)
            size = await self._live.finish() if self._live is not None else None
        except BaseException:
            if self._live is not None:
                await self._live.abort()
            raise
        finally:
            part.close()
        if size is None:
            size = await remux(
                self.part_path, self.dest, source_ext=self.plan.container,
                settings=self.settings, cancel=self.cancel,
            )  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            self.part_path.unlink()
        remove_state(self.dest)
        return FetchResult(path=self.dest, size=size, sha256=None)

    def _load_state(self) -> TransferState | None:
        state = TransferState.load(self.state_path)
        if (
            state is None
            or state.kind != "fragments"
            or state.signature != self.plan.signature
            or not self.part_path.exists()
            or self.part_path.stat().st_size < state.offset
        ):
            return None
        return state

    def _save(self, part: PartFile, state: TransferState) -> None:
        state.fragments_done = self._next_write
        state.offset = self._offset
        if part.fd >= 0:
            with contextlib.suppress(OSError):
                os.fdatasync(part.fd)
                state.save(self.state_path)

    async def _run_all(self, part: PartFile, state: TransferState) -> None:
        first = self.plan.fragments[self._next_fetch].url
        self._raw = await open_threads(self.transport, first, -1, self.settings, self.connections)
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(min(self.connections, len(self.plan.fragments))):
                    tg.create_task(self._worker())
                tg.create_task(self._writer(part))
                tg.create_task(self._supervise(part, state))
        except BaseExceptionGroup as group:
            raise pick_error(group) from None
        finally:
            if self._raw is not None:
                await self._raw.close()
                self._raw = None

    async def _worker(self) -> None:
        total = len(self.plan.fragments)
        link = self._raw.link() if self._raw is not None else None
        while True:
            async with self._cond:
                await self._cond.wait_for(lambda: self._next_fetch >= total or self._may_fetch())
                if self._next_fetch >= total:
                    return
                index = self._next_fetch
                self._next_fetch += 1
            data = await self._fetch(index, link)
            async with self._cond:
                self._ready[index] = data
                self._ready_bytes += len(data)
                self._cond.notify_all()

    def _may_fetch(self) -> bool:
        ahead = self._next_fetch - self._next_write
        return ahead < self.window or (ahead < MAX_AHEAD and self._ready_bytes < AHEAD_BYTES)

    async def _writer(self, part: PartFile) -> None:
        total = len(self.plan.fragments)
        while self._next_write < total:
            async with self._cond:
                await self._cond.wait_for(lambda: self._next_write in self._ready)
                batch: list[bytes] = []
                size = 0
                while self._next_write + len(batch) in self._ready and size < WRITE_BATCH:
                    batch.append(self._ready.pop(self._next_write + len(batch)))
                    size += len(batch[-1])
                self._ready_bytes -= size
            count = len(batch)
            data = batch[0] if count == 1 else b"".join(batch)
            del batch
            if self._live is None:
                await part.write_at(data, self._offset)
            else:  # the file and ffmpeg get the bytes at the same time
                await asyncio.gather(part.write_at(data, self._offset), self._live.feed(data))
            async with self._cond:
                self._offset += len(data)  # with _next_write, in one step: the state pair
                self._next_write += count
                self._cond.notify_all()
            self.tracker.add(len(data))
            self.tracker.fragments_done = self._next_write
            self.tracker.total = int(self._offset / self._next_write * total)
        self._done.set()

    async def _supervise(self, part: PartFile, state: TransferState) -> None:
        last_flush = time.monotonic()
        while not self._done.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK):
                    await self._done.wait()
            if self.cancel is not None and self.cancel.is_set():
                raise CancelledError_("download cancelled")
            self.tracker.maybe_emit()
            if time.monotonic() - last_flush >= FLUSH_INTERVAL:
                done, offset = self._next_write, self._offset
                await part.sync()
                state.fragments_done, state.offset = done, offset
                await asyncio.to_thread(state.save, self.state_path)
                last_flush = time.monotonic()

    async def _fetch(self, index: int, link: Link | None) -> bytes:
        frag = self.plan.fragments[index]
        retrier = Retrier(self.policy, self.cancel)
        missing = 0
        headers = {}
        if frag.byte_range is not None:
            headers["Range"] = f"bytes={frag.byte_range[0]}-{frag.byte_range[1]}"
        raw = self._raw
        if raw is None or link is None or not raw.reader.same_origin(frag.url):
            raw = None
        while True:
            try:
                if raw is not None and link is not None:
                    await self.transport.session.rate_limiter.acquire(raw.reader.host)
                    data = await raw.fetch(
                        link, frag.url, request_headers(self.transport, frag.url), frag.byte_range
                    )
                else:
                    async with self.transport.stream(frag.url, headers) as response:
                        data = await self._read(frag, response)
                break
            except UnsuitableError:
                raw = None  # this answer needs httpx
            except HTTPStatusError as exc:
                if exc.status_code == 404 and missing < MISSING_RETRIES:
                    missing += 1
                    await asyncio.sleep(self.policy.delay(missing))  # a cancel: _supervise
                    continue
                try:
                    await retrier.wait(exc)
                except HTTPStatusError as final:
                    raise self._failed(index, final) from final
            except MediavaultError as exc:
                await retrier.wait(exc)
        if frag.key is not None and frag.iv is not None:
            if frag.is_init and data[4:8] in (b"ftyp", b"styp", b"moov"):
                return data  # declared under a key, yet sent in the clear: MP4 as it is
            return await asyncio.to_thread(decrypt_aes128, data, frag.key, frag.iv)
        return data

    def _failed(self, index: int, exc: HTTPStatusError) -> HTTPStatusError:
        """``exc`` saying which fragment it was (the number, 1-based, and the total)."""
        what = "init segment" if self.plan.fragments[index].is_init else "fragment"
        return HTTPStatusError(
            f"{what} {index + 1} of {len(self.plan.fragments)} failed: {exc.message}",
            status_code=exc.status_code, url=exc.url, retry_after=exc.retry_after,
            detail=exc.detail,
        )  # fmt: skip

    async def _read(self, frag: FragmentSpec, response: httpx.Response) -> bytes:
        status = response.status_code
        if status not in (200, 206):
            raise status_error(response)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity") and frag.byte_range is None:
            # sent encoded although identity was asked for (gzip-stored objects): decoded
            stall = self.settings.stall_timeout
            return b"".join([c async for c in iter_body(response, stall, decoded=True)])
        skip, want = 0, None
        if frag.byte_range is not None:
            want = frag.byte_range[1] - frag.byte_range[0] + 1
            if status == 200:  # the server ignored the range: cut it out of the whole body
                skip = frag.byte_range[0]
        chunks: list[bytes] = []
        got = 0
        async for chunk in iter_body(response, self.settings.stall_timeout):
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            if want is not None and got + len(chunk) > want:
                chunk = chunk[: want - got]
            chunks.append(chunk)
            got += len(chunk)
            if want is not None and got >= want:
                break
        if want is not None and got != want:
            raise IntegrityError(f"fragment {frag.url} ended after {got} of {want} bytes")
        return b"".join(chunks)
