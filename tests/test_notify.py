"""Apprise notifications: the host policy holds at the connection, not only at the check."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mediavault.net.guard import HostPolicy
from mediavault.notify import send_notification


class _Receiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``rebind.test`` answers a public address first, loopback on every later lookup."""
    import mediavault.net.resolve_guard as resolve_guard

    real = resolve_guard._real
    lookups: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            lookups.append(host)
            ip = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
            return real(ip, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(resolve_guard, "_real", fake)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_guard._checked_getaddrinfo)
    return lookups


async def test_a_name_rebound_to_loopback_after_the_check_reaches_nothing(
    receiver: _Receiver, rebinding: list[str]
) -> None:
    policy = HostPolicy(allow_private_networks=False)
    ok = await send_notification(
        policy, [f"json://rebind.test:{receiver.port}/hook"], title="t", body="b"
    )
    assert ok is False
    assert len(rebinding) >= 2, "checked, then resolved again at the connection"
    assert receiver.bodies == []


async def test_an_allowed_host_still_gets_its_notification(receiver: _Receiver) -> None:
    policy = HostPolicy(allow_private_networks=True)
    ok = await send_notification(
        policy, [f"json://127.0.0.1:{receiver.port}/hook"], title="hello", body="world"
    )
    assert ok is True
    assert len(receiver.bodies) == 1 and b"world" in receiver.bodies[0]
