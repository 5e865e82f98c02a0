"""How the transfer engine reaches the network.

Every request goes through the session's pooled httpx client, whose guarded transport
checks every URL (each redirect hop included) against the host policy. httpx exceptions
become mediavault errors in :func:`mediavault.net.errors.translate_error`. The session
does not retry streams; the engine does, with :class:`Retrier`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from mediavault.errors import (
    CancelledError_,
    HTTPStatusError,
    MediavaultError,
    NetworkError,
    RemoteChangedError,
    TimeoutError_,
)
from mediavault.net.errors import status_error, translate_error
from mediavault.net.retry import RetryPolicy
from mediavault.net.session import HttpSession

__all__ = [
    "FallbackError",
    "Retrier",
    "Transport",
    "is_retryable",
    "iter_body",
    "pick_error",
    "status_error",
]

class FallbackError(Exception):
    """Raised inside an engine to switch strategy (not an error the caller sees)."""


class Transport:
    """Streaming GETs through the session (guarded, redirects checked hop by hop)."""

    def __init__(self, session: HttpSession, *, headers: Mapping[str, str] | None = None) -> None:
        self.session = session
        self.headers = {"Accept-Encoding": "identity", **(headers or {})}

    @asynccontextmanager
    async def stream(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """GET ``url``; the response is open (body unread) inside the block.

        ``response.url`` is the final URL after redirects. Status codes are left to the
        caller; transport failures raise :class:`NetworkError` subclasses.
        """
        merged = {**self.headers, **(headers or {})}
        async with self.session.stream("GET", url, headers=merged, raise_for_status=False) as resp:
            yield resp


def _translate(exc: BaseException) -> MediavaultError:
    if isinstance(exc, MediavaultError):
        return exc
    return translate_error(exc)


async def iter_body(
    response: httpx.Response, stall_timeout: float, *, decoded: bool = False
) -> AsyncGenerator[bytes, None]:
    """The raw body in the chunks the socket gives (``decoded``: with its Content-Encoding
    undone by httpx); no bytes for ``stall_timeout`` s fails."""
    chunks = response.aiter_bytes() if decoded else response.aiter_raw()
    assert isinstance(chunks, AsyncGenerator)
    try:
        while True:
            try:
                async with asyncio.timeout(stall_timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise TimeoutError_(
                    f"stalled: no data for {stall_timeout:g}s from {response.url}"
                ) from exc
            except httpx.HTTPError as exc:
                raise _translate(exc) from exc
            yield chunk
    finally:
        await chunks.aclose()


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, HTTPStatusError):
        return exc.is_retryable
    return isinstance(exc, NetworkError) and exc.retryable


class Retrier:
    """Retry bookkeeping for one stream of work; progress resets the attempt count."""

    def __init__(self, policy: RetryPolicy, cancel: asyncio.Event | None = None) -> None:
        self.policy = policy
        self.cancel = cancel
        self.attempt = 0

    def progressed(self) -> None:
        self.attempt = 0

    async def wait(self, exc: MediavaultError) -> None:
        """Sleep before the next try, or re-raise ``exc`` when it is final."""
        self.attempt += 1
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        if (
            not is_retryable(exc)
            or self.attempt >= self.policy.attempts
            or self.policy.gives_up_on(retry_after)
        ):
            raise exc
        delay = self.policy.delay(self.attempt, retry_after)
        if self.cancel is None:
            await asyncio.sleep(delay)
            return
        try:
            async with asyncio.timeout(delay):
                await self.cancel.wait()
        except TimeoutError:
            return
        raise CancelledError_("download cancelled")


def pick_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error to report from a failed group of connections."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for sub in exc.exceptions:
                walk(sub)
        else:
            leaves.append(exc)

    walk(group)
    for kind in (CancelledError_, FallbackError, RemoteChangedError, MediavaultError):
        for exc in leaves:
            if isinstance(exc, kind):
                return exc
    return leaves[0]
