"""Rate limiter units: in-process token bucket and the Redis-shared window."""

from __future__ import annotations

import uuid

from mediavault.api.ratelimit import RateLimiter, RedisRateLimiter, identity_for


async def test_token_bucket_allows_the_budget_then_asks_to_wait() -> None:
    limiter = RateLimiter(3)
    assert [await limiter.hit("ip:a") for _ in range(3)] == [None, None, None]
    wait = await limiter.hit("ip:a")
    assert wait is not None and 0 < wait <= 20.0
    assert await limiter.hit("ip:b") is None  # buckets are per identity


async def test_redis_window_is_shared_between_limiters() -> None:
    url = "redis://127.0.0.1:6379/13"
    first, second = RedisRateLimiter(3, url), RedisRateLimiter(3, url)
    identity = identity_for(uuid.uuid4().hex)
    try:
        results = [await first.hit(identity), await second.hit(identity), await first.hit(identity)]
        assert results == [None, None, None]
        wait = await second.hit(identity)
        assert wait is not None and 0 < wait <= 60
    finally:
        await first.close()
        await second.close()


def test_identity_does_not_keep_the_secret() -> None:
    key = "mv_abcd_secretsecret"
    assert "secret" not in identity_for(key) and identity_for(key) == identity_for(key)
