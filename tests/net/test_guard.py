from __future__ import annotations

import ipaddress

import httpx
import pytest

from mediavault.errors import BlockedURLError
from mediavault.net import HostPolicy, HttpSession
from mediavault.net.guard import is_public_address
from mediavault.net.transport import PinnedBackend
from tests.net.conftest import local_settings
from tests.support.origin import Origin, OriginRequest

PUBLIC = "http://93.184.216.34/video.mp4"  # a literal public address: no DNS needed

BLOCKED_BY_DEFAULT = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/x",
    "http://[::1]/",
    "http://10.0.0.7/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a00:1]/",  # IPv4-mapped 10.0.0.1 in hex form
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://localhost:9/",
    "http://LOCALHOST./",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/",
]


@pytest.mark.parametrize("url", BLOCKED_BY_DEFAULT)
async def test_private_and_special_addresses_are_blocked(url: str) -> None:
    policy = HostPolicy()
    with pytest.raises(BlockedURLError) as info:
        await policy.check_url(url)
    assert info.value.code == "url_blocked"
    with pytest.raises(BlockedURLError):
        policy.check_url_sync(url)


async def test_public_address_passes() -> None:
    policy = HostPolicy()
    assert await policy.check_url(PUBLIC) == [ipaddress.ip_address("93.184.216.34")]
    assert policy.check_url_sync("https://[2606:4700::1111]/a") == [
        ipaddress.ip_address("2606:4700::1111")
    ]


@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/x", "file:///etc/passwd", "javascript:alert(1)", "http:///nohost",
     "gopher://93.184.216.34/", "http://93.184.216.34:99999/"],
)
async def test_bad_schemes_and_urls_are_blocked(url: str) -> None:
    with pytest.raises(BlockedURLError):
        await HostPolicy(allow_private_networks=True).check_url(url)


async def test_allow_private_networks_lets_loopback_through() -> None:
    policy = HostPolicy(allow_private_networks=True)
    assert ipaddress.ip_address("127.0.0.1") in await policy.check_url("http://localhost:1/")
    await policy.check_url("http://[::1]/")
    await policy.check_url("http://10.1.2.3/")


async def test_allowed_hosts_by_ip_name_and_cidr() -> None:
    policy = HostPolicy(
        allowed_hosts=["127.0.0.1", "localhost", "10.0.0.0/8", "2001:db8::/32"],
        allow_private_networks=True,
    )
    await policy.check_url("http://127.0.0.1:8000/")
    await policy.check_url("http://localhost/")  # by name, whatever it resolves to
    await policy.check_url("http://10.200.3.4/")  # by CIDR
    await policy.check_url("http://[2001:db8::5]/")
    await policy.check_url("http://[::ffff:10.0.0.9]/")  # mapped form of a CIDR member
    for url in ("http://127.0.0.2/", "http://11.0.0.1/", PUBLIC, "http://[::1]/"):
        with pytest.raises(BlockedURLError, match="not in the allowed hosts"):
            await policy.check_url(url)


async def test_allow_list_does_not_lift_the_private_network_rule() -> None:
    policy = HostPolicy(allowed_hosts=["127.0.0.1"], allow_private_networks=False)
    with pytest.raises(BlockedURLError, match="non-public"):
        await policy.check_url("http://127.0.0.1/")


def test_allowed_domain_suffix_and_every_address_rule() -> None:
    policy = HostPolicy(
        allowed_hosts=[".example.com", "*.example.net", "10.0.0.0/8"], allow_private_networks=True
    )
    ten = ipaddress.ip_address("10.0.0.1")
    public = ipaddress.ip_address("93.184.216.34")
    policy.check_addresses("cdn.example.com", [public])
    policy.check_addresses("example.com", [public])
    policy.check_addresses("other.org", [ten])
    policy.check_addresses("a.b.example.net", [public])
    with pytest.raises(BlockedURLError):  # one address outside the list is enough
        policy.check_addresses("other.org", [ten, public])
    with pytest.raises(BlockedURLError):
        policy.check_addresses("badexample.com", [public])


def test_from_settings_and_invalid_entries() -> None:
    settings = local_settings(allowed_hosts=["127.0.0.1", "10.0.0.0/8"], allow_private_networks=False)
    policy = HostPolicy.from_settings(settings)
    assert policy.allowed_hosts == ("127.0.0.1", "10.0.0.0/8")
    assert not policy.allow_private_networks
    assert policy.restricted


def test_is_public_address() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert not is_public_address(ipaddress.ip_address("::ffff:192.168.0.1"))
    assert not is_public_address(ipaddress.ip_address("ff02::1"))
    assert not is_public_address(ipaddress.ip_address("240.0.0.1"))


async def test_redirect_to_blocked_address_is_refused(origin: Origin) -> None:
    """An allowed origin cannot bounce us to the metadata service or another private host."""
    targets = {
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-private": "http://10.0.0.5/internal",
        "/to-mapped": "http://[::ffff:169.254.169.254]/",
    }
    for path, location in targets.items():
        origin.routes[path] = lambda req, loc=location: (302, {"Location": loc}, b"")
    settings = local_settings(allowed_hosts=["127.0.0.1"])
    async with HttpSession(settings) as session:
        for path in targets:
            with pytest.raises(BlockedURLError):
                await session.get(origin.url(path))
            with pytest.raises(BlockedURLError):  # streaming and raw client use too
                async with session.stream("GET", origin.url(path)):
                    pass
            with pytest.raises(BlockedURLError):
                await session.client.get(origin.url(path))


async def test_redirect_to_allowed_target_is_followed(origin: Origin) -> None:
    origin.routes["/hop"] = lambda req: (301, {"Location": "/hello.txt"}, b"")
    async with HttpSession(local_settings()) as session:
        response = await session.get(origin.url("/hop"))
    assert response.content == b"hello world"
    assert origin.requests["/hop"] == 1


async def test_default_policy_blocks_the_origin_itself(origin: Origin) -> None:
    settings = local_settings(allow_private_networks=False, allowed_hosts=[])
    async with HttpSession(settings) as session:
        with pytest.raises(BlockedURLError):
            await session.get(origin.url("/hello.txt"))
    assert origin.requests["/hello.txt"] == 0


async def test_pinned_backend_checks_at_connect_time(origin: Origin) -> None:
    strict = PinnedBackend(HostPolicy())
    with pytest.raises(BlockedURLError):
        await strict.connect_tcp("localhost", origin.port)
    loose = PinnedBackend(HostPolicy(allow_private_networks=True))
    stream = await loose.connect_tcp("localhost", origin.port, timeout=2)
    await stream.aclose()


async def test_guard_sees_every_hop(origin: Origin) -> None:
    seen: list[str] = []

    def chain(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        step = int(req.query.split("=")[1]) if req.query else 0
        seen.append(req.path + "?" + req.query)
        if step < 3:
            return 302, {"Location": f"/chain?step={step + 1}"}, b""
        return 200, {}, b"done"

    origin.routes["/chain"] = chain
    async with HttpSession(local_settings()) as session:
        checked: list[str] = []
        original = session.policy.check_url

        async def spy(url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
            checked.append(url)
            return await original(url)

        object.__setattr__(session.policy, "check_url", spy)
        response = await session.get(origin.url("/chain"))
    assert response.text == "done"
    assert [httpx.URL(u).query.decode() for u in checked] == ["", "step=1", "step=2", "step=3"]


async def test_resolutions_are_cached_briefly() -> None:
    policy = HostPolicy(allow_private_networks=True, dns_ttl=30)
    first = await policy.check_url("http://localhost/")
    assert ("localhost", 80) in policy._cache
    assert await policy.check_url("http://localhost/") == first
    uncached = HostPolicy(allow_private_networks=True, dns_ttl=0)
    await uncached.check_url("http://localhost/")
    assert uncached._cache == {}
