"""One ASGI middleware for every request: request id, rate limit, body size limit,
security headers, latency metric and a structured access log line.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming responses, SSE and WebSockets pass
through untouched and the per-request cost stays in microseconds.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediavault.api.ratelimit import identity_for

if TYPE_CHECKING:
    from mediavault.api.state import Services

__all__ = ["API_PREFIX", "SECURITY_HEADERS", "ApiMiddleware"]

API_PREFIX = "/api/v1"

log = structlog.get_logger("mediavault.api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CSP_APP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Swagger UI / ReDoc pages load their assets from jsDelivr.
_CSP_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src https://fonts.gstatic.com; worker-src blob:; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def _credential(headers: dict[bytes, bytes]) -> str | None:
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1")
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return None


async def _send_error(send: Send, status: int, code: str, message: str, extra: Any = ()) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "detail": None}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})


def _declared_length(headers: dict[bytes, bytes]) -> int:
    value = headers.get(b"content-length", b"0").strip() or b"0"
    return int(value) if value.isdigit() else 0  # the server rejects malformed values


def _without_trailing_slash(scope: Scope) -> Scope:
    """``/api/v1/jobs/`` is ``/api/v1/jobs``: answered in place, not redirected (a 307 is
    lost on clients that do not follow redirects, and behind a TLS-terminating proxy its
    absolute ``Location`` names the wrong scheme)."""
    path: str = scope["path"]
    if not path.startswith("/api/") or not path.endswith("/"):
        return scope
    trimmed = path.rstrip("/")
    raw: bytes = scope.get("raw_path") or path.encode()
    return {**scope, "path": trimmed, "raw_path": raw.rstrip(b"/")}


class ApiMiddleware:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.max_body = services.settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = _without_trailing_slash(scope)
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, headers, request_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _limited(self, scope: Scope, headers: dict[bytes, bytes]) -> float | None:
        if not scope["path"].startswith("/api/"):
            return None
        client = scope.get("client")
        waits = [await self.services.limiter.hit("ip:" + (client[0] if client else "-"))]
        credential = _credential(headers)
        if credential:
            waits.append(await self.services.limiter.hit(identity_for(credential)))
        worst = [w for w in waits if w is not None]
        return max(worst) if worst else None

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], rid: str
    ) -> None:
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]
        extra = [(b"x-request-id", rid.encode()), *SECURITY_HEADERS]
        extra.append(
            (
                b"content-security-policy",
                (_CSP_DOCS if path in ("/api/docs", "/api/redoc") else _CSP_APP).encode(),
            )
        )

        too_large = f"request body over {self.max_body} bytes"
        cut_off = False  # the body outgrew the limit: our 413 went out, the app is muted

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if cut_off:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *extra]
                if path.startswith("/api/"):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen, cut_off, status
            message = await receive()
            if message["type"] == "http.request" and not cut_off:
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    cut_off, status = True, 413
                    await _send_error(send, 413, "request_too_large", too_large, extra)
                    return {"type": "http.disconnect"}
            return message

        wait = await self._limited(scope, headers)
        if wait is not None:
            status = 429
            retry = str(max(1, round(wait))).encode()
            await _send_error(
                send, 429, "rate_limited", "too many requests", [(b"retry-after", retry), *extra]
            )
        elif _declared_length(headers) > self.max_body:
            status = 413
            await _send_error(send, 413, "request_too_large", too_large, extra)
        else:
            await self.app(scope, bounded_receive, send_wrapped)
        self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        template = getattr(scope.get("route"), "path", None)
        if template is None:
            template = "unmatched" if scope["path"].startswith("/api/") else "/static"
        elif scope["path"].startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template  # routers are included under the API prefix
        self.services.metrics.observe(scope["method"], template, status, seconds)
        if scope["path"] != "/api/v1/health":
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(seconds * 1000, 2),
            )
