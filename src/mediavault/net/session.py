"""The HTTP session every part of mediavault uses to talk to the world.

One pooled ``httpx.AsyncClient`` per session, behind a guarded transport: every request
(each redirect hop included) passes the ``HostPolicy`` and the per-host rate limit, and
every connection is made to an address the policy approved (no DNS-rebinding window).
``request()`` retries transient failures; ``stream()`` does not (the transfer engine
retries itself). httpx exceptions become mediavault errors in ``net.errors`` only.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from mediavault import errors
from mediavault.net.cookies import load_netscape_cookies
from mediavault.net.errors import status_error, translate_error
from mediavault.net.guard import HostPolicy
from mediavault.net.ratelimit import HostRateLimiter, RateLimit
from mediavault.net.retry import RETRYABLE_STATUSES, RetryPolicy
from mediavault.net.transport import GuardedTransport, make_transport

if TYPE_CHECKING:
    from mediavault.config import Settings

__all__ = ["HttpSession"]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
CONNECT_ATTEMPTS = 3  # tries for a server that refuses or cannot be reached


class HttpSession:
    """Pooled, guarded, retrying HTTP access: ``async with HttpSession(settings) as s:``."""

    def __init__(
        self,
        settings: Settings,
        *,
        cookies_file: str | Path | None = None,
        cookies: http.cookiejar.CookieJar | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        policy: HostPolicy | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or HostPolicy.from_settings(settings)
        self.retry = retry or RetryPolicy(attempts=settings.max_retries + 1)
        if rate_limit is None and settings.host_rate_limit > 0:
            rate_limit = RateLimit(per_second=settings.host_rate_limit)
        self.rate_limiter = HostRateLimiter(rate_limit)
        self.proxy = proxy if proxy is not None else settings.proxy
        jar: http.cookiejar.CookieJar = (
            cookies if cookies is not None else http.cookiejar.CookieJar()
        )
        if cookies_file is not None:
            for cookie in load_netscape_cookies(cookies_file):
                jar.set_cookie(cookie)
        self.cookies = jar
        inner = make_transport(
            self.policy,
            proxy=self.proxy,
            max_connections=max(32, settings.connections * 8),
        )
        self.transport = GuardedTransport(inner, self.policy, self.rate_limiter)
        self.client = httpx.AsyncClient(
            transport=self.transport,
            cookies=jar,
            headers={"User-Agent": settings.user_agent, **dict(headers or {})},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=max(60.0, settings.read_timeout),
            ),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
        )

    # lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> HttpSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    @property
    def closed(self) -> bool:
        return self.client.is_closed

    # requests ------------------------------------------------------------------------

    async def request(
        self, method: str, url: str, *, retry: RetryPolicy | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request, retrying network errors and 408/425/429/5xx; body read.

        Raises ``HTTPStatusError`` for a 4xx/5xx answer (after the retries),
        ``TimeoutError_``/``NetworkError`` when the network fails, ``BlockedURLError``
        when the policy refuses the URL or a redirect target.
        """
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.client.request(method, url, **kwargs)
            except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
                error = translate_error(exc)
                if not self._should_retry(error, attempt, policy):
                    raise error from exc
                await self._pause(policy, attempt, None, url, error)
                continue
            if response.status_code < 400:
                return response
            error = status_error(response)
            await response.aclose()
            if response.status_code not in RETRYABLE_STATUSES or attempt >= policy.attempts:
                raise error
            if policy.gives_up_on(error.retry_after):
                raise error
            await self._pause(policy, attempt, error.retry_after, url, error)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET ``url`` and decode its JSON body (``ExtractionError`` if it is not JSON)."""
        response = await self.request("GET", url, **kwargs)
        try:
            return json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise errors.ExtractionError(
                f"expected JSON from {url}, got {response.headers.get('content-type', '?')}",
                detail={"url": url, "status": response.status_code},
            ) from exc

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, *, raise_for_status: bool = True, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response (guarded; no retries). Errors while reading are translated.

        With ``raise_for_status`` (the default) a 4xx/5xx answer raises ``HTTPStatusError``.
        """
        try:
            async with self.client.stream(method, url, **kwargs) as response:
                if raise_for_status and response.status_code >= 400:
                    raise status_error(response)
                yield response
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise translate_error(exc) from exc

    # helpers -------------------------------------------------------------------------

    @staticmethod
    def _should_retry(error: errors.MediavaultError, attempt: int, policy: RetryPolicy) -> bool:
        attempts = policy.attempts
        if isinstance(error, errors.ConnectFailedError):
            # a refused or unreachable server is tried briefly, then reported: a wrong
            # host or port should not cost minutes of backoff (a job is retried later
            # by the job engine; a transfer under way has its own patience)
            attempts = min(attempts, CONNECT_ATTEMPTS)
        return (
            attempt < attempts
            and isinstance(error, errors.NetworkError)
            and errors.is_retryable(error)
        )

    @staticmethod
    async def _pause(
        policy: RetryPolicy,
        attempt: int,
        retry_after: float | None,
        url: str,
        error: errors.MediavaultError,
    ) -> None:
        delay = policy.delay(attempt, retry_after)
        log.info(
            "retrying %s in %.2fs (attempt %d/%d): %s",
            url,
            delay,
            attempt + 1,
            policy.attempts,
            error.message,
        )
        await asyncio.sleep(delay)
