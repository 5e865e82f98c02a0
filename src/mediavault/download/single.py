"""One stream from byte 0, for servers without ranges."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx

from mediavault.errors import CancelledError_, IntegrityError, MediavaultError
from mediavault.net.retry import RetryPolicy

from .files import PartFile
from .progress import ProgressTracker
from .transport import Retrier, Transport, iter_body, status_error

__all__ = ["WRITE_BUFFER", "single_stream", "stream_whole"]

T = TypeVar("T")

WRITE_BUFFER = 256 * 1024  # bytes gathered before one write


async def stream_whole(
    part: PartFile,
    response: httpx.Response,
    *,
    stall_timeout: float,
    tracker: ProgressTracker,
    cancel: asyncio.Event | None,
) -> tuple[int, str]:
    """Write the whole body of a 200 ``response`` from byte 0; returns (size, sha256).

    The body is hashed on the way (in the writer thread, in order); a body shorter or
    longer than its Content-Length raises ``IntegrityError``."""
    if response.status_code != 200:
        raise status_error(response)
    length = response.headers.get("content-length")
    expected = int(length) if length and length.isdigit() else None
    part.truncate(0)
    tracker.downloaded = 0
    tracker.total = expected
    hasher = hashlib.sha256()
    pos = 0
    chunks: list[bytes] = []
    buffered = 0
    async for chunk in iter_body(response, stall_timeout):
        chunks.append(chunk)
        buffered += len(chunk)
        tracker.add(len(chunk))  # progress as bytes arrive, not per write
        if buffered >= WRITE_BUFFER:
            await part.write_at(b"".join(chunks), pos, hasher)
            pos += buffered
            chunks, buffered = [], 0
        if cancel is not None and cancel.is_set():
            raise CancelledError_("download cancelled")
        tracker.maybe_emit()
    if chunks:
        await part.write_at(b"".join(chunks), pos, hasher)
        pos += buffered
    if expected is not None and pos != expected:
        raise IntegrityError(f"got {pos} bytes from {response.url}, Content-Length said {expected}")
    await part.sync()
    return pos, hasher.hexdigest()


async def single_stream(
    transport: Transport,
    url: str,
    part_path: Path,
    response: httpx.Response | None,
    *,
    policy: RetryPolicy,
    stall_timeout: float,
    tracker: ProgressTracker,
    cancel: asyncio.Event | None,
    finish: Callable[[int, str], Awaitable[T]],
) -> T:
    """Download ``url`` over one connection from byte 0 (starting with ``response`` when
    one is open) into ``part_path``; ``finish(size, sha256)`` checks and moves the file.

    A failure, ``finish``'s included, starts over: the server cannot resume."""
    retrier = Retrier(policy, cancel)
    part = PartFile(part_path)
    try:
        while True:
            try:
                if response is None:
                    async with transport.stream(url) as resp:
                        size, digest = await stream_whole(
                            part, resp, stall_timeout=stall_timeout, tracker=tracker, cancel=cancel
                        )
                else:
                    try:
                        size, digest = await stream_whole(
                            part, response, stall_timeout=stall_timeout, tracker=tracker,
                            cancel=cancel,
                        )  # fmt: skip
                    finally:
                        await response.aclose()
                return await finish(size, digest)
            except MediavaultError as exc:
                response = None
                await retrier.wait(exc)
    finally:
        part.close()
