"""Connection-time address checks for code that resolves names itself (Apprise).

Apprise, and the ``requests`` and ``smtplib`` under it, resolve a host again when they
connect, after the URL was approved: a name that answered a public address at the check
and a private one at the connection (DNS rebinding) would slip through. Inside
:func:`guarded`, every name resolved in that context (a context variable: it follows the
work into the threads Apprise hands it to, which copy the caller's context) passes the
host policy on the answer it actually got, and that answer is the one the connection
uses. Everything else is unaffected; the wrapper is installed once, on first use.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mediavault.errors import BlockedURLError
from mediavault.net.guard import HostPolicy, addresses_of

__all__ = ["guarded"]

_active: contextvars.ContextVar[tuple[HostPolicy, list[str]] | None] = contextvars.ContextVar(
    "mediavault_resolve_guard", default=None
)
_install_lock = threading.Lock()
_real = socket.getaddrinfo
_installed = False


def _checked_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    infos = _real(host, port, *args, **kwargs)
    active = _active.get()
    if active is None or host is None:
        return infos
    policy, refused = active
    name = (host.decode() if isinstance(host, bytes) else str(host)).strip("[]").rstrip(".")
    try:
        policy.check_addresses(name.lower(), addresses_of(infos))
    except BlockedURLError as exc:
        refused.append(exc.message)
        raise socket.gaierror(socket.EAI_FAIL, exc.message) from None
    return infos


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            socket.getaddrinfo = _checked_getaddrinfo
            _installed = True


@contextmanager
def guarded(policy: HostPolicy) -> Iterator[list[str]]:
    """Check every name resolved in this context against ``policy`` while inside; yields
    the list of refusals (messages) made meanwhile."""
    _install()
    refused: list[str] = []
    token = _active.set((policy, refused))
    try:
        yield refused
    finally:
        _active.reset(token)
