"""A raw-socket HTTP/1.x server for tests that need answers no HTTP stack would give.

Subclasses implement ``answer(conn, method, headers)``: write the whole response on
``conn`` and return whether the connection stays open for the next request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class RawServer:
    """Accepts loopback connections, one thread each, and reads request heads for
    ``answer``; ``answers`` counts the requests answered."""

    def __init__(self) -> None:
        self.answers = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def answer(self, conn: socket.socket, method: str, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def count(self) -> int:
        """Count one more answer; returns its number (1 for the first)."""
        with self._lock:
            self.answers += 1
            return self.answers

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn, conn.makefile("rb") as reader:  # hang-ups
            while True:
                lines = []
                while (line := reader.readline()) not in (b"\r\n", b""):
                    lines.append(line.decode("latin-1").strip())
                if not lines:
                    return
                headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in lines[1:])}
                if not self.answer(conn, lines[0].split()[0], headers):
                    return
