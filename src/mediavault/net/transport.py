"""The guarded httpx transport and the address-pinning network backend under it."""

from __future__ import annotations

import os
import ssl
import threading
import typing

import httpcore
import httpx

from mediavault import errors
from mediavault.net.guard import HostPolicy
from mediavault.net.ratelimit import HostRateLimiter

__all__ = ["GuardedTransport", "PinnedBackend", "make_transport", "tls_context"]

_tls: dict[tuple[str, str], ssl.SSLContext] = {}
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """The process's client TLS context, built on first use and shared (building one
    loads the CA bundle, ~20 ms of CPU; a plain-http download never needs it).

    It trusts certifi's CAs and, added to them, those of ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set (a private CA or a TLS-inspecting proxy's): the only
    variables of the environment the client honours (proxies come from settings).
    """
    extra = (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    with _tls_lock:
        context = _tls.get(extra)
        if context is None:
            context = httpx.create_ssl_context(trust_env=False)
            cafile, capath = extra
            if cafile or capath:
                try:
                    context.load_verify_locations(cafile=cafile or None, capath=capath or None)
                except (OSError, ssl.SSLError) as exc:
                    raise errors.ConfigError(
                        f"cannot load the CA certificates of SSL_CERT_FILE/SSL_CERT_DIR: {exc}"
                    ) from exc
            _tls[extra] = context
        return context


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request (every redirect hop too) against the policy and rate limit."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, policy: HostPolicy, limiter: HostRateLimiter
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.limiter = limiter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.policy.check_url(str(request.url))
        await self.limiter.acquire(request.url.host)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy approved, resolving once per connection.

    This closes the DNS-rebinding window between the URL check and the connection.
    """

    def __init__(self, policy: HostPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addrs = await self.policy.check_host(host, port)
        last: Exception | None = None
        options = list(socket_options or ())
        for addr in addrs:
            try:
                return await self.inner.connect_tcp(
                    str(addr),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # check_host never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _LazyTLSPool(httpcore.AsyncConnectionPool):
    """A connection pool that takes the shared TLS context at its first https origin."""

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        if self._ssl_context is None and origin.scheme in (b"https", b"wss"):
            self._ssl_context = tls_context()
        return super().create_connection(origin)


class _PinnedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that uses ``PinnedBackend``.

    ``AsyncHTTPTransport.__init__`` is not called: it would build a TLS context and a
    pool only to have both replaced; the transport's methods use ``_pool`` alone.
    """

    def __init__(self, policy: HostPolicy, *, limits: httpx.Limits) -> None:
        self._pool = _LazyTLSPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(policy),
        )


def make_transport(
    policy: HostPolicy, *, proxy: str | None, max_connections: int
) -> httpx.AsyncBaseTransport:
    """The transport under ``GuardedTransport``: pinned when direct, plain via a proxy.

    Through a proxy the proxy resolves the target; the URL check in ``GuardedTransport``
    still applies to every request.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    if proxy:
        return httpx.AsyncHTTPTransport(
            proxy=proxy, limits=limits, verify=tls_context(), trust_env=False
        )
    return _PinnedHTTPTransport(policy, limits=limits)
