"""yt-dlp's network access routed through our ``HttpSession``, and its errors made ours.

yt-dlp runs in a worker thread. Every request it makes goes to ``SessionRH``, the only
request handler its ``YoutubeDL`` gets; that handler sends the request with the
mediavault session on the event loop (so the host policy checks it and every redirect
hop, proxies, cookies and the rate limit apply) and streams the body back to the thread.

``translate_ytdlp_error`` is the one place yt-dlp exceptions become mediavault errors.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack
from typing import Any

import httpx
from yt_dlp import YoutubeDL
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, UnsupportedError

from mediavault import errors
from mediavault.net.errors import translate_error
from mediavault.net.session import HttpSession

__all__ = ["SessionBridge", "guarded_ytdl", "translate_ytdlp_error"]

log = logging.getLogger("mediavault.ytdlp")

_ERROR_BODY_LIMIT = 1 << 20
_ATTR = "mediavault_error"
_PENDING: set[asyncio.Task[Any]] = set()


class SessionBridge:
    """Runs session requests on ``loop`` for code in other threads."""

    def __init__(self, session: HttpSession, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the loop and wait for it (from another thread only)."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def call_soon(self, coro: Any) -> None:
        """Run ``coro`` on the loop without waiting (safe from any thread, the loop's too)."""
        if self.loop.is_closed():
            coro.close()
        elif self.on_loop_thread():
            task = self.loop.create_task(coro)
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
        else:
            asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def open(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[httpx.Response, AsyncGenerator[bytes, None], AsyncExitStack]:
        stack = AsyncExitStack()
        try:
            response = await stack.enter_async_context(
                self.session.stream(
                    method, url, headers=headers, content=content, raise_for_status=False
                )
            )
        except BaseException:
            await stack.aclose()
            raise
        chunks = response.aiter_bytes()
        assert isinstance(chunks, AsyncGenerator)
        return response, chunks, stack


class _BridgedBody(io.RawIOBase):
    """A file object whose bytes come from an httpx stream on the event loop."""

    def __init__(
        self, bridge: SessionBridge, chunks: AsyncGenerator[bytes, None], stack: AsyncExitStack
    ) -> None:
        super().__init__()
        self._bridge = bridge
        self._chunks = chunks
        self._stack = stack
        self._buffer = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        try:
            chunk: bytes = self._bridge.call(self._chunks.__anext__())
        except StopAsyncIteration:
            self._eof = True
            return b""
        except errors.MediavaultError as exc:
            raise _transport_error(exc) from exc
        except (httpx.HTTPError, OSError) as exc:
            error = translate_error(exc)
            raise _transport_error(error) from exc
        return chunk

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while not self._eof:
                parts.append(self._next_chunk())
            return b"".join(parts)
        while len(self._buffer) < size and not self._eof:
            self._buffer += self._next_chunk()
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    async def _release(self) -> None:
        try:
            await self._chunks.aclose()
        finally:
            await self._stack.aclose()

    def close(self) -> None:
        if not self.closed:
            if self._eof or self._bridge.on_loop_thread() or self._bridge.loop.is_closed():
                # garbage-collected on the loop itself: never block it waiting for itself
                self._bridge.call_soon(self._release())
            else:
                try:
                    self._bridge.call(self._release())
                except Exception as exc:  # closing a broken stream: nothing left to lose
                    log.debug("closing a yt-dlp response failed: %s", exc)
        super().close()


def _transport_error(error: errors.MediavaultError) -> TransportError:
    out = TransportError(error.message, cause=error)
    setattr(out, _ATTR, error)
    return out


_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class SessionRH(RequestHandler):  # type: ignore[misc]
    """The only yt-dlp request handler we install: sends through the mediavault session."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = None
    _SUPPORTED_FEATURES = None
    bridge: SessionBridge | None = None

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        for key in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(key, None)

    def _send(self, request: Any) -> Response:
        bridge = self.bridge
        if bridge is None:
            raise TransportError("yt-dlp request handler used without a session")
        headers = self._get_headers(request)
        cookie = self._get_cookiejar(request).get_cookie_header(request.url)
        if cookie and not any(k.lower() == "cookie" for k in headers):
            headers["Cookie"] = cookie
        data = request.data
        if data is not None and not isinstance(data, bytes):
            data = data.read() if hasattr(data, "read") else b"".join(data)
        try:
            response, chunks, stack = bridge.call(
                bridge.open(request.method, request.url, headers, data)
            )
        except errors.HTTPStatusError as exc:
            failed = Response(io.BytesIO(b""), exc.url or request.url, {}, exc.status_code)
            http_error = HTTPError(failed)
            setattr(http_error, _ATTR, exc)
            raise http_error from exc
        except errors.MediavaultError as exc:
            raise _transport_error(exc) from exc
        body = _BridgedBody(bridge, chunks, stack)
        encoded = "content-encoding" in response.headers
        out_headers = {
            k: v
            for k, v in response.headers.multi_items()
            if not (encoded and k.lower() in _DROPPED_HEADERS)
        }
        out = Response(body, str(response.url), out_headers, response.status_code)
        if response.status_code >= 400:
            content = body.read(_ERROR_BODY_LIMIT)
            body.close()
            failed = Response(
                io.BytesIO(content), str(response.url), out_headers, response.status_code
            )
            raise HTTPError(failed)
        return out


class _Logger:
    """yt-dlp's messages go to our log, never to the terminal."""

    def debug(self, msg: str) -> None:
        log.debug("%s", msg)

    def info(self, msg: str) -> None:
        log.debug("%s", msg)

    def warning(self, msg: str) -> None:
        log.info("%s", msg)

    def error(self, msg: str) -> None:
        log.info("%s", msg)


class _GuardedYoutubeDL(YoutubeDL):  # type: ignore[misc]
    def __init__(self, params: dict[str, Any], bridge: SessionBridge) -> None:
        self._mv_bridge = bridge
        super().__init__(params)

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        director = super().build_request_director([SessionRH], preferences)
        for handler in director.handlers.values():
            handler.bridge = self._mv_bridge
        return director


BASE_PARAMS: dict[str, Any] = {
    "quiet": True,
    "no_warnings": True,
    "noprogress": True,
    "noplaylist": False,
    "cachedir": False,
    "allow_unplayable_formats": True,  # we flag DRM formats ourselves and never fetch them
    "check_formats": False,
    "color": {"stdout": "no_color", "stderr": "no_color"},
}


def guarded_ytdl(bridge: SessionBridge, **params: Any) -> YoutubeDL:
    """A ``YoutubeDL`` whose every request goes through ``bridge``'s session."""
    merged = {**BASE_PARAMS, "logger": _Logger(), **params}
    return _GuardedYoutubeDL(merged, bridge)


# errors ---------------------------------------------------------------------------------

_PREFIX = re.compile(r"^(?:ERROR:\s*)?(?:\[[^\]]+\]\s*)?(?:[\w-]+:\s+)?")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        exc_info = getattr(item, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            todo.append(exc_info[1])
        cause = getattr(item, "cause", None)
        if isinstance(cause, BaseException):
            todo.append(cause)
        todo.extend([item.__cause__, item.__context__])


def _clean(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "extraction failed"
    return _PREFIX.sub("", first, count=1).strip() or first


def translate_ytdlp_error(exc: BaseException, url: str) -> errors.MediavaultError:
    """The mediavault error for an exception raised inside yt-dlp."""
    chain = list(_chain(exc))
    for item in chain:
        ours = getattr(item, _ATTR, None)
        if isinstance(ours, errors.MediavaultError):
            return ours
        if isinstance(item, errors.MediavaultError):
            return item
    for item in chain:
        if isinstance(item, HTTPError):
            return errors.HTTPStatusError(
                f"HTTP {item.status} {item.reason or ''} from {item.response.url or url}".strip(),
                status_code=item.status,
                url=item.response.url or url,
            )
    message = str(exc)
    if any(isinstance(item, UnsupportedError) for item in chain):
        return errors.NoMediaError(f"no media found at {url}", detail={"url": url})
    if "DRM protected" in message:
        return errors.DRMProtectedError(f"{url} is DRM-protected", detail={"url": url})
    if "No video formats found" in message or "no suitable formats" in message.lower():
        return errors.NoMediaError(f"no downloadable media at {url}", detail={"url": url})
    if isinstance(exc, DownloadError | ExtractorError):
        return errors.ExtractionError(_clean(message), detail={"url": url})
    return errors.ExtractionError(f"{type(exc).__name__}: {message}", detail={"url": url})
