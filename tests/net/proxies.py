"""Tiny loopback proxies for tests: an HTTP forward proxy and a SOCKS5 proxy."""

from __future__ import annotations

import selectors
import socket
import socketserver
import struct
import threading
from urllib.parse import urlsplit


def _relay(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=10):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        sel.close()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Proxy:
    handler: type[socketserver.BaseRequestHandler]

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(self.handler):  # type: ignore[misc, name-defined]
            owner = proxy

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]

    def __enter__(self) -> _Proxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _HttpHandler(socketserver.BaseRequestHandler):
    owner: HttpProxy

    def handle(self) -> None:
        head, rest = _read_head(self.request)
        if not head:
            return
        lines = head.split(b"\r\n")
        method, target, version = lines[0].decode().split(" ")
        self.owner.seen.append(f"{method} {target}")
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
        else:
            parts = urlsplit(target)
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            headers = [
                line
                for line in lines[1:]
                if not line.lower().startswith((b"connection:", b"proxy-", b"keep-alive:"))
            ]
            request = [f"{method} {path or '/'} {version}".encode(), *headers, b"Connection: close"]
            upstream.sendall(b"\r\n".join(request) + b"\r\n\r\n" + rest)
            # tell the client this connection ends with the response
            reply_head, reply_rest = _read_head(upstream)
            reply = [
                line
                for line in reply_head.split(b"\r\n")
                if not line.lower().startswith((b"connection:", b"keep-alive:"))
            ]
            self.request.sendall(
                b"\r\n".join([*reply, b"Connection: close"]) + b"\r\n\r\n" + reply_rest
            )
        with upstream:
            _relay(self.request, upstream)


class HttpProxy(_Proxy):
    handler = _HttpHandler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _SocksHandler(socketserver.BaseRequestHandler):
    owner: Socks5Proxy

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def handle(self) -> None:
        version, count = self._exact(2)
        assert version == 5
        self._exact(count)
        self.request.sendall(b"\x05\x00")  # no authentication
        _ver, cmd, _rsv, atyp = self._exact(4)
        if atyp == 1:
            host = socket.inet_ntoa(self._exact(4))
        elif atyp == 3:
            host = self._exact(self._exact(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, self._exact(16))
        (port,) = struct.unpack("!H", self._exact(2))
        self.owner.seen.append(f"{host}:{port}")
        if cmd != 1:
            self.request.sendall(b"\x05\x07\x00\x01" + b"\x00" * 6)
            return
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            self.request.sendall(b"\x05\x05\x00\x01" + b"\x00" * 6)
            return
        self.request.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
        with upstream:
            _relay(self.request, upstream)


class Socks5Proxy(_Proxy):
    handler = _SocksHandler

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"
