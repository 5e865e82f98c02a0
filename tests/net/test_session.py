from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from mediavault.errors import ExtractionError
from mediavault.net import HostRateLimiter, HttpSession, RateLimit, parse_cookie_text
from tests.net.conftest import local_settings
from tests.support.origin import Origin, OriginRequest


def echo(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
    body = {"headers": {k.lower(): v for k, v in req.headers.items()}, "query": req.query}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


async def test_user_agent_and_custom_headers(origin: Origin) -> None:
    origin.routes["/echo"] = echo
    settings = local_settings(user_agent="mediavault-test/1.0")
    async with HttpSession(settings, headers={"X-Extra": "yes"}) as session:
        data = await session.get_json(origin.url("/echo"), params={"a": "1"})
        per_call = await session.get_json(origin.url("/echo"), headers={"X-Extra": "override"})
    assert data["headers"]["user-agent"] == "mediavault-test/1.0"
    assert data["headers"]["x-extra"] == "yes"
    assert data["query"] == "a=1"
    assert per_call["headers"]["x-extra"] == "override"


async def test_get_json_rejects_non_json(origin: Origin) -> None:
    async with HttpSession(local_settings()) as session:
        with pytest.raises(ExtractionError, match="expected JSON"):
            await session.get_json(origin.url("/hello.txt"))


async def test_cookies_file_is_sent_to_its_domain_only(origin: Origin, tmp_path: Path) -> None:
    origin.routes["/echo"] = echo
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc123\n"
        "other.example\tFALSE\t/\tFALSE\t0\tforeign\tnope\n"
    )
    async with HttpSession(local_settings(), cookies_file=str(cookies)) as session:
        data = await session.get_json(origin.url("/echo"))
    assert data["headers"]["cookie"] == "session=abc123"


async def test_cookie_jar_argument_and_server_cookies(origin: Origin) -> None:
    origin.routes["/echo"] = echo
    origin.routes["/login"] = lambda req: (200, {"Set-Cookie": "token=t1; Path=/"}, b"ok")
    jar = parse_cookie_text("a=1; b=2", domain="127.0.0.1")
    async with HttpSession(local_settings(), cookies=jar) as session:
        await session.get(origin.url("/login"))
        data = await session.get_json(origin.url("/echo"))
    sent = sorted(data["headers"]["cookie"].split("; "))
    assert sent == ["a=1", "b=2", "token=t1"]
    assert {c.name for c in jar} == {"a", "b", "token"}  # the caller's jar sees new cookies


async def test_post_json_body(origin: Origin) -> None:
    received: list[bytes] = []

    def sink(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        received.append(req.body)
        return 201, {"Content-Type": "application/json"}, b'{"ok": true}'

    origin.routes["/api"] = sink
    async with HttpSession(local_settings()) as session:
        response = await session.request("POST", origin.url("/api"), json={"x": 1})
    assert response.status_code == 201
    assert json.loads(received[0]) == {"x": 1}


async def test_connections_are_pooled(origin: Origin) -> None:
    async with HttpSession(local_settings()) as session:
        for _ in range(5):
            await session.get(origin.url("/hello.txt"))
        pool = session.transport.inner._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1
    assert session.closed


async def test_per_host_rate_limit(origin: Origin) -> None:
    settings = local_settings(host_rate_limit=10.0)
    async with HttpSession(settings) as session:
        began = time.monotonic()
        await asyncio.gather(*(session.get(origin.url("/hello.txt")) for _ in range(6)))
        elapsed = time.monotonic() - began
    assert elapsed >= 0.45  # 6 requests at 10/s: the last one starts 0.5 s in
    assert origin.requests["/hello.txt"] == 6


async def test_rate_limiter_is_per_host_with_burst() -> None:
    limiter = HostRateLimiter(RateLimit(per_second=20, burst=3))
    waits = [await limiter.acquire("a.example") for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.02 <= waits[3] <= 0.06
    assert await limiter.acquire("b.example") == 0.0
    assert await HostRateLimiter(None).acquire("a.example") == 0.0
    with pytest.raises(ValueError):
        RateLimit(per_second=0)
