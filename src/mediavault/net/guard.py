"""The outbound-request guard (SSRF protection), consulted before every request.

Rules, in order:

1. the scheme is http or https and the URL has a host;
2. when ``allowed_hosts`` is set, the host name matches an entry, or every address it
   resolves to matches an entry (a host name, ``.example.com`` for a domain and its
   subdomains (``*.example.com`` works too), an IP, or a CIDR);
3. unless ``allow_private_networks``, no address the host resolves to may be loopback,
   private, link-local (cloud metadata ``169.254.169.254`` included), multicast,
   reserved, unspecified or otherwise not globally routable. IPv6 forms that embed an
   IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo) are judged by that IPv4 address.

The rules are independent: an allow-list entry does not lift rule 3.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mediavault.errors import BlockedURLError, NetworkError

if TYPE_CHECKING:
    from mediavault.config import Settings

__all__ = ["HostPolicy", "IPAddress", "addresses_of", "is_public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_SIZE = 4096


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    return None


def _canonical(addr: IPAddress) -> IPAddress:
    if isinstance(addr, ipaddress.IPv6Address):
        return _embedded_ipv4(addr) or addr
    return addr


def is_public_address(addr: IPAddress) -> bool:
    """True for globally routable unicast addresses only."""
    addr = _canonical(addr)
    return addr.is_global and not (
        addr.is_multicast or addr.is_reserved or addr.is_unspecified or addr.is_link_local
    )


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def addresses_of(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    """The distinct IP addresses in ``socket.getaddrinfo`` results, in order."""
    out: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        addr = _parse_ip(str(sockaddr[0]))
        if addr is not None and addr not in out:
            out.append(addr)
    return out


@dataclass(frozen=True)
class _AllowList:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[_Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> _AllowList:
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[_Network] = []
        for raw in entries:
            entry = raw.strip().strip("[]").lower().rstrip(".")
            if not entry:
                continue
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
            elif (ip := _parse_ip(entry)) is not None:
                networks.append(ipaddress.ip_network(ip))
            elif entry.startswith(("*.", ".")):
                suffixes.append(entry.lstrip("*"))
            else:
                names.add(entry)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def allows_name(self, host: str) -> bool:
        return host in self.names or any(
            host.endswith(suffix) or host == suffix[1:] for suffix in self.suffixes
        )

    def allows_ip(self, addr: IPAddress) -> bool:
        candidates = {addr, _canonical(addr)}
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


@dataclass(frozen=True)
class HostPolicy:
    """Decides whether mediavault may send a request to a URL."""

    allowed_hosts: Sequence[str] = ()
    allow_private_networks: bool = False
    #: seconds a name resolution is reused (each connection still goes to a checked address)
    dns_ttl: float = 30.0
    _allow: _AllowList = field(init=False, repr=False, compare=False)
    _cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        try:
            allow = _AllowList.parse(self.allowed_hosts)
        except ValueError as exc:
            raise BlockedURLError(f"invalid allowed_hosts entry: {exc}") from exc
        object.__setattr__(self, "_allow", allow)

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        return cls(
            allowed_hosts=tuple(settings.allowed_hosts),
            allow_private_networks=settings.allow_private_networks,
        )

    @property
    def restricted(self) -> bool:
        """Whether this policy can refuse anything resolving to a public address."""
        return bool(self._allow)

    # public checks -----------------------------------------------------------------

    async def check_url(self, url: str) -> list[IPAddress]:
        """Raise ``BlockedURLError`` unless ``url`` may be requested; return its addresses.

        A host that does not resolve raises ``NetworkError``.
        """
        host, port = self._split(url)
        addrs = await self._resolve_async(host, port)
        self.check_addresses(host, addrs, url=url)
        return addrs

    async def check_host(self, host: str, port: int) -> list[IPAddress]:
        """Resolve ``host`` and apply the address rules; the approved addresses."""
        host = host.strip("[]").rstrip(".").lower()
        addrs = await self._resolve_async(host, port)
        self.check_addresses(host, addrs)
        return addrs

    def check_url_sync(self, url: str) -> list[IPAddress]:
        """``check_url`` for synchronous callers (yt-dlp hooks, worker threads)."""
        host, port = self._split(url)
        addrs = self._resolve(host, port)
        self.check_addresses(host, addrs, url=url)
        return addrs

    def check_addresses(self, host: str, addrs: Sequence[IPAddress], *, url: str = "") -> None:
        """Apply rules 2 and 3 to ``host`` and the addresses it resolved to."""
        shown = url or host
        if not addrs:
            raise BlockedURLError(f"{host} did not resolve to any address", detail={"url": shown})
        if self._allow and not self._allow.allows_name(host):
            outside = [a for a in addrs if not self._allow.allows_ip(a)]
            if outside:
                raise BlockedURLError(
                    f"{host} is not in the allowed hosts",
                    detail={"url": shown, "address": str(outside[0])},
                )
        if not self.allow_private_networks:
            for addr in addrs:
                if not is_public_address(addr):
                    raise BlockedURLError(
                        f"{host} resolves to a non-public address ({addr})",
                        detail={"url": shown, "address": str(addr)},
                    )

    # helpers -------------------------------------------------------------------------

    @staticmethod
    def _split(url: str) -> tuple[str, int]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise BlockedURLError(f"invalid URL {url!r}: {exc}") from exc
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise BlockedURLError(f"only http and https URLs are allowed, not {scheme or 'none'!r}")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise BlockedURLError(f"URL has no host: {url!r}")
        return host, port or _DEFAULT_PORTS[scheme]

    def _cached(self, host: str, port: int) -> list[IPAddress] | None:
        literal = _parse_ip(host)
        if literal is not None:
            return [literal]
        hit = self._cache.get((host, port))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        cached = self._cached(host, port)
        if cached is not None:
            return cached
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise NetworkError(f"cannot resolve {host}: {exc}", detail={"host": host}) from exc
        addrs = addresses_of(infos)
        if self.dns_ttl > 0:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[(host, port)] = (time.monotonic() + self.dns_ttl, addrs)
        return addrs

    async def _resolve_async(self, host: str, port: int) -> list[IPAddress]:
        cached = self._cached(host, port)
        if cached is not None:
            return cached
        return await asyncio.to_thread(self._resolve, host, port)
