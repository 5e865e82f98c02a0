from __future__ import annotations

import pytest

from mediavault.errors import BlockedURLError, NetworkError
from mediavault.net import HttpSession, RetryPolicy
from tests.net.conftest import local_settings
from tests.net.proxies import HttpProxy, Socks5Proxy
from tests.support.origin import Origin


async def test_http_proxy_from_settings(origin: Origin) -> None:
    with HttpProxy() as proxy:
        async with HttpSession(local_settings(proxy=proxy.url)) as session:
            response = await session.get(origin.url("/hello.txt"))
            body = b""
            async with session.stream("GET", origin.url("/blob.bin")) as streamed:
                async for chunk in streamed.aiter_bytes():
                    body += chunk
    assert response.content == b"hello world"
    assert len(body) == 300_000
    assert proxy.seen == [f"GET {origin.url('/hello.txt')}", f"GET {origin.url('/blob.bin')}"]


async def test_socks5_proxy_argument(origin: Origin) -> None:
    with Socks5Proxy() as proxy:
        async with HttpSession(local_settings(), proxy=proxy.url) as session:
            response = await session.get(origin.url("/hello.txt"))
    assert response.content == b"hello world"
    assert proxy.seen == [f"127.0.0.1:{origin.port}"]


async def test_guard_applies_before_the_proxy(origin: Origin) -> None:
    with HttpProxy() as proxy, Socks5Proxy() as socks:
        for url in (proxy.url, socks.url):
            settings = local_settings(proxy=url, allowed_hosts=["127.0.0.1"])
            async with HttpSession(settings) as session:
                with pytest.raises(BlockedURLError):
                    await session.get("http://169.254.169.254/latest/meta-data/")
                with pytest.raises(BlockedURLError):
                    await session.get("http://10.0.0.1/")
        assert proxy.seen == [] and socks.seen == []


async def test_dead_proxy_is_a_network_error(origin: Origin) -> None:
    with HttpProxy() as proxy:
        dead = proxy.url
    policy = RetryPolicy(attempts=1)
    async with HttpSession(local_settings(proxy=dead), retry=policy) as session:
        with pytest.raises(NetworkError):
            await session.get(origin.url("/hello.txt"))
