"""The job engine's lean Redis client against the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from mediavault.jobs._redis import RawRedis
from tests.jobs.conftest import REDIS_URL


@pytest.fixture
def key() -> Iterator[str]:
    name = f"mvtest-raw-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name)
    client.close()


def test_commands_go_in_one_round_trip_and_replies_come_in_order(key: str) -> None:
    raw = RawRedis(REDIS_URL)
    try:
        replies = raw.execute([("ZADD", key, 2, "b"), ("ZADD", key, 1, "a"), ("ZCARD", key)])
        assert replies == [1, 1, 2]
        assert raw.call("ZPOPMIN", key, 5) == [b"a", b"1", b"b", b"2"]
        assert raw.call("BZPOPMIN", key, 0.1) is None  # empty: waited, then nothing
    finally:
        raw.close()


def test_a_killed_connection_is_replaced_and_the_command_sent_again(key: str) -> None:
    raw = RawRedis(REDIS_URL)
    admin = redis.Redis.from_url(REDIS_URL)
    try:
        client_id = raw.call("CLIENT", "ID")
        assert admin.client_kill_filter(_id=client_id) == 1  # only our connection
        assert raw.call("ZADD", key, 1, "x") == 1  # the dead connection was retried once
        assert admin.zcard(key) == 1
    finally:
        raw.close()
        admin.close()


def test_an_error_reply_raises_and_the_client_goes_on(key: str) -> None:
    raw = RawRedis(REDIS_URL)
    try:
        with pytest.raises(redis.ResponseError):
            raw.execute([("ZADD", key, "not-a-score", "x"), ("ZCARD", key)])
        assert raw.call("ZCARD", key) == 0  # nothing half-read is left behind
    finally:
        raw.close()
