"""The machinery every platform emulation shares.

An emulation is a ``tests.support.origin.Origin`` whose routes are regular expressions
(API endpoints answer JSON built from a ``Catalog``) and whose media files are written on
first request (so a 10,000-item catalogue costs nothing until something is downloaded),
then served by the origin itself with Range/ETag support. Faults (429, 5xx) use the
origin's ``faults``; ``origin.requests`` counts every request by path.
"""

from __future__ import annotations

import json
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.origin import Fault, Origin, OriginRequest

Response = tuple[int, dict[str, str], bytes]
RouteHandler = Callable[[OriginRequest, re.Match[str]], Response]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


def query_params(req: OriginRequest) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(req.query, keep_blank_values=True))


def unique_media(base: bytes, tag: str, *, kind: str) -> bytes:
    """``base`` made unique by ``tag``: an MP4 ``free`` box, or bytes after a JPEG's EOI."""
    payload = f"mediavault-emulator {tag}".encode()
    if kind == "video":
        return base + struct.pack(">I", 8 + len(payload)) + b"free" + payload
    return base + payload


class PatternRoutes(dict[str, Any]):
    """A drop-in for ``Origin.routes`` that matches paths against regular expressions."""

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[tuple[re.Pattern[str], RouteHandler]] = []
        self.materialize: Callable[[str], None] | None = None

    def add(self, pattern: str, handler: RouteHandler) -> None:
        self.patterns.append((re.compile(pattern), handler))

    def _find(self, path: str) -> tuple[RouteHandler, re.Match[str]] | None:
        for regex, handler in self.patterns:
            match = regex.fullmatch(path)
            if match:
                return handler, match
        return None

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if self._find(path) is not None:
            return True
        if self.materialize is not None:
            self.materialize(path)  # a media file: create it, let the origin serve it
        return False

    def __getitem__(self, path: str) -> Callable[[OriginRequest], Response]:
        found = self._find(path)
        if found is None:
            raise KeyError(path)
        handler, match = found
        return lambda req: handler(req, match)


class Emulator:
    """A running emulated platform: ``with OnlyFansEmulator(media) as emu: emu.base_url``."""

    def __init__(self, media_root: Path) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mv-emu-")
        self.files = Path(self._tmp.name)
        self.video_base = (media_root / "feed" / "clip01.mp4").read_bytes()
        self.image_base = (media_root / "thumb.jpg").read_bytes()
        self.origin = Origin(self.files)
        self.routes = PatternRoutes()
        self.routes.materialize = self._materialize
        self.origin.routes = self.routes
        self.media_kinds: dict[str, str] = {}  # /media/... path -> kind
        self.install()

    def install(self) -> None:  # overridden: register the platform's routes
        raise NotImplementedError

    def route(self, pattern: str) -> Callable[[RouteHandler], RouteHandler]:
        def decorator(handler: RouteHandler) -> RouteHandler:
            self.routes.add(pattern, handler)
            return handler

        return decorator

    # media ---------------------------------------------------------------------------
    def media_url(self, name: str, kind: str) -> str:
        path = f"/media/{name}"
        self.media_kinds[path] = kind
        return self.origin.url(path)

    def media_bytes(self, path: str) -> bytes:
        kind = self.media_kinds[path]
        base = self.video_base if kind == "video" else self.image_base
        return unique_media(base, path, kind=kind)

    def _materialize(self, path: str) -> None:
        if path not in self.media_kinds:
            return
        target = self.files / path.lstrip("/")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_bytes(self.media_bytes(path))
            tmp.replace(target)

    # faults and counters -------------------------------------------------------------
    def rate_limit(self, path: str, times: int = 1, retry_after: float = 1) -> None:
        self.origin.faults[path] = Fault(status=[429] * times, retry_after=retry_after, count=times)

    def api_requests(self, prefix: str = "/api") -> int:
        return sum(n for path, n in self.origin.requests.items() if path.startswith(prefix))

    def media_requests(self) -> int:
        return sum(n for path, n in self.origin.requests.items() if path.startswith("/media/"))

    @property
    def base_url(self) -> str:
        return self.origin.base_url

    def __enter__(self) -> Emulator:
        self.origin.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.origin.stop()
        self._tmp.cleanup()
