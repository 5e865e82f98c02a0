"""Checks on every URL a user hands the API, before anything is stored or fetched.

Scheme allow-list (http/https), the optional domain allow/deny lists
(``MEDIAVAULT_ALLOWED_DOMAINS`` / ``MEDIAVAULT_DENIED_DOMAINS``, a domain covers its
subdomains) and the SSRF guard (:class:`HostPolicy`: DNS answers, loopback/private/
link-local/metadata addresses, ``MEDIAVAULT_ALLOWED_HOSTS``). Redirects are checked again
by the HTTP session when the URL is fetched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mediavault.config import Settings
from mediavault.errors import BlockedURLError, NetworkError
from mediavault.net.guard import HostPolicy

__all__ = ["MAX_URL_LENGTH", "check_input_url", "domain_allowed"]

MAX_URL_LENGTH = 2048


def _matches(host: str, domains: list[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in (d.strip(".").lower() for d in domains))


def domain_allowed(settings: Settings, host: str) -> bool:
    host = host.rstrip(".").lower()
    if settings.denied_domains and _matches(host, settings.denied_domains):
        return False
    return not settings.allowed_domains or _matches(host, settings.allowed_domains)


async def check_input_url(settings: Settings, policy: HostPolicy, url: str) -> None:
    """Raise ``BlockedURLError`` (422) unless the service may fetch ``url``."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError as exc:
        raise BlockedURLError(f"invalid URL: {exc}", detail={"url": url}) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedURLError("only http and https URLs are accepted", detail={"url": url})
    if not host:
        raise BlockedURLError("URL has no host", detail={"url": url})
    if not domain_allowed(settings, host):
        raise BlockedURLError(f"{host} is not an allowed domain", detail={"url": url})
    try:
        await policy.check_url(url)
    except NetworkError as exc:
        raise BlockedURLError(f"{host} does not resolve", detail={"url": url}) from exc
