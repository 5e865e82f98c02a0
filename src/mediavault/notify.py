"""Per-user notifications to chat and e-mail services through Apprise URLs.

Apprise reaches many services (``tgram://``, ``discord://``, ``mailto://``, ``json://``...).
The outbound rules hold here too: URLs whose target host is explicit (``json``, ``xml``,
``form`` and their ``s`` variants) pass the :class:`HostPolicy` like any request; the
other schemes talk to their service's fixed public host, which is refused outright when
``MEDIAVAULT_ALLOWED_HOSTS`` restricts outbound traffic. While Apprise sends, every name
it resolves is checked again on the answer its connection uses
(:func:`mediavault.net.resolve_guard.guarded`), so a name rebound to a private address
after the check reaches nothing.
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from urllib.parse import urlsplit

import apprise
import structlog

from mediavault.errors import BlockedURLError, InputError, NetworkError
from mediavault.net.guard import HostPolicy
from mediavault.net.resolve_guard import guarded

__all__ = ["check_notify_url", "mask_notify_url", "send_notification"]

log = structlog.get_logger("mediavault.notify")

_DIRECT = {
    "json": "http",
    "jsons": "https",
    "xml": "http",
    "xmls": "https",
    "form": "http",
    "forms": "https",
}


@functools.cache
def _plugins_loaded() -> bool:
    """Load Apprise's plugins once, silencing the stdlib deprecation warnings some emit
    on import (``imghdr``); they are Apprise's, not ours."""
    from apprise.plugins import N_MGR

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        N_MGR.load_modules()  # type: ignore[no-untyped-call]
    return True


def _client(urls: list[str]) -> apprise.Apprise:
    _plugins_loaded()
    client = apprise.Apprise()
    for url in urls:
        if client.add(url) is False:
            raise InputError(f"not a supported notification URL: {mask_notify_url(url)}")
    return client


def mask_notify_url(url: str) -> str:
    """``scheme://host`` only: the rest of an Apprise URL usually holds a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"


async def check_notify_url(policy: HostPolicy, url: str) -> None:
    """Raise ``InputError``/``BlockedURLError`` unless ``url`` is usable and allowed."""
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        raise InputError(f"not a supported notification URL: {mask_notify_url(url)}")
    _client([url])
    if scheme in _DIRECT:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or ""
        target = f"{_DIRECT[scheme]}://{'[' + host + ']' if ':' in host else host}{port}/"
        try:
            await policy.check_url(target)
        except NetworkError as exc:
            raise BlockedURLError(f"notification host does not resolve: {host}") from exc
    elif policy.restricted:
        raise BlockedURLError(
            f"{scheme}:// notifications reach a third-party host, "
            "which MEDIAVAULT_ALLOWED_HOSTS does not allow"
        )


async def send_notification(policy: HostPolicy, urls: list[str], *, title: str, body: str) -> bool:
    """Send to every allowed URL (in a thread: Apprise is synchronous); True if all worked."""
    allowed: list[str] = []
    for url in urls:
        try:
            await check_notify_url(policy, url)
        except InputError as exc:
            log.warning("notification_refused", target=mask_notify_url(url), error=exc.message)
            continue
        allowed.append(url)
    if not allowed:
        return not urls

    def send() -> bool:
        with guarded(policy) as refused:
            ok = bool(_client(allowed).notify(body=body, title=title))
        for reason in refused:
            log.warning("notification_blocked", error=reason)
        return ok

    ok = await asyncio.to_thread(send)
    if not ok:
        log.warning("notification_failed", targets=[mask_notify_url(u) for u in allowed])
    return ok and len(allowed) == len(urls)
