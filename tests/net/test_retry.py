from __future__ import annotations

import email.utils
import time

import pytest

from mediavault.errors import HTTPStatusError, NetworkError, TimeoutError_
from mediavault.net import HttpSession, RetryPolicy, parse_retry_after
from tests.net.conftest import FAST_RETRY, local_settings
from tests.support.origin import Fault, Origin


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff_base=0.5, backoff_max=4.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=30.0, jitter=0.25)
    delays = {policy.delay(2) for _ in range(200)}
    assert all(1.5 <= d <= 2.5 for d in delays)
    assert len(delays) > 1


def test_retry_after_wins_over_backoff() -> None:
    policy = RetryPolicy(backoff_base=0.5, jitter=0.25)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.gives_up_on(policy.retry_after_max + 1)
    assert not policy.gives_up_on(None)


def test_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    future = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (parse_retry_after(future) or 0) <= 61
    past = email.utils.formatdate(time.time() - 600, usegmt=True)
    assert parse_retry_after(past) == 0.0


async def test_503_with_retry_after_is_honoured(origin: Origin) -> None:
    origin.faults["/hello.txt"] = Fault(status=[503], retry_after=1, count=1)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        began = time.monotonic()
        response = await session.get(origin.url("/hello.txt"))
        waited = time.monotonic() - began
    assert response.content == b"hello world"
    assert origin.requests["/hello.txt"] == 2
    assert waited >= 0.95  # the server's 1 s, not our 0.01 s backoff


async def test_429_then_success(origin: Origin) -> None:
    origin.faults["/hello.txt"] = Fault(status=[429, 429], count=2)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        response = await session.get(origin.url("/hello.txt"))
    assert response.status_code == 200
    assert origin.requests["/hello.txt"] == 3


async def test_connection_reset_is_retried(origin: Origin) -> None:
    origin.faults["/blob.bin"] = Fault(reset_after=1000, count=1)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        response = await session.get(origin.url("/blob.bin"))
    assert len(response.content) == 300_000
    assert origin.requests["/blob.bin"] == 2


async def test_retries_exhausted_raise_status_error(origin: Origin) -> None:
    origin.faults["/hello.txt"] = Fault(status=[503] * 5, retry_after=0)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        with pytest.raises(HTTPStatusError) as info:
            await session.get(origin.url("/hello.txt"))
    assert info.value.status_code == 503
    assert info.value.is_retryable
    assert origin.requests["/hello.txt"] == FAST_RETRY.attempts


async def test_client_errors_are_not_retried(origin: Origin) -> None:
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        with pytest.raises(HTTPStatusError) as info:
            await session.get(origin.url("/missing.mp4"))
    assert info.value.status_code == 404
    assert info.value.code == "http_error"
    assert not info.value.is_retryable
    assert origin.requests["/missing.mp4"] == 1


async def test_long_retry_after_is_not_waited_for(origin: Origin) -> None:
    origin.faults["/hello.txt"] = Fault(status=[429], retry_after=3600, count=1)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        began = time.monotonic()
        with pytest.raises(HTTPStatusError) as info:
            await session.get(origin.url("/hello.txt"))
    assert time.monotonic() - began < 2
    assert info.value.status_code == 429
    assert info.value.retry_after == 3600


async def test_stalled_read_times_out_and_is_retried(origin: Origin) -> None:
    origin.faults["/blob.bin"] = Fault(stall_after=100, stall_seconds=2, count=1)
    settings = local_settings(read_timeout=0.5)
    async with HttpSession(settings, retry=FAST_RETRY) as session:
        response = await session.get(origin.url("/blob.bin"))
    assert len(response.content) == 300_000
    assert origin.requests["/blob.bin"] == 2


async def test_timeout_after_all_attempts(origin: Origin) -> None:
    origin.faults["/blob.bin"] = Fault(stall_after=100, stall_seconds=2)
    settings = local_settings(read_timeout=0.3)
    policy = RetryPolicy(attempts=2, backoff_base=0.01, jitter=0)
    async with HttpSession(settings, retry=policy) as session:
        with pytest.raises(TimeoutError_) as info:
            await session.get(origin.url("/blob.bin"))
    assert info.value.code == "timeout"
    assert origin.requests["/blob.bin"] == 2


async def test_refused_connection_becomes_network_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(attempts=2, backoff_base=0.01, jitter=0)
    async with HttpSession(local_settings(), retry=policy) as session:
        with pytest.raises(NetworkError, match="cannot connect"):
            await session.get(f"http://127.0.0.1:{port}/")


async def test_a_refused_connection_is_tried_briefly_not_for_minutes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import socket

    from mediavault.errors import ConnectFailedError
    from mediavault.net.session import CONNECT_ATTEMPTS

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = local_settings()
    assert settings.max_retries + 1 > CONNECT_ATTEMPTS  # the default policy: 9 tries
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="mediavault.net.session"):
        async with HttpSession(settings) as session:
            with pytest.raises(ConnectFailedError, match="cannot connect") as info:
                await session.get(f"http://127.0.0.1:{port}/x.mp4")
    assert info.value.code == "network_error" and info.value.retryable  # a job retries later
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == CONNECT_ATTEMPTS - 1
    assert time.monotonic() - started < 5


async def test_stream_does_not_retry(origin: Origin) -> None:
    origin.faults["/hello.txt"] = Fault(status=[503], count=1)
    async with HttpSession(local_settings(), retry=FAST_RETRY) as session:
        with pytest.raises(HTTPStatusError):
            async with session.stream("GET", origin.url("/hello.txt")):
                pass
        async with session.stream("GET", origin.url("/hello.txt")) as response:
            body = await response.aread()
    assert body == b"hello world"
    assert origin.requests["/hello.txt"] == 2


async def test_errors_while_streaming_are_translated(origin: Origin) -> None:
    origin.faults["/blob.bin"] = Fault(reset_after=50_000, count=1)
    async with HttpSession(local_settings()) as session:
        with pytest.raises(NetworkError):
            async with session.stream("GET", origin.url("/blob.bin")) as response:
                async for _ in response.aiter_bytes():
                    pass
