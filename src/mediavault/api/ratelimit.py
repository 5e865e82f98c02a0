"""Request rate limiting per API key and per client IP.

A token bucket per identity (``rate_limit_per_minute`` tokens, refilled continuously)
kept in process; with ``MEDIAVAULT_QUEUE_URL=redis://`` the count is shared by every
API process through Redis (a fixed one-minute window per identity).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

__all__ = ["RateLimiter", "RedisRateLimiter", "identity_for"]

_MAX_BUCKETS = 50_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """In-process token buckets; ``hit`` returns seconds to wait, or None when allowed."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    async def hit(self, identity: str) -> float | None:
        now = time.monotonic()
        bucket = self._buckets.get(identity)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[identity] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [key for key, b in self._buckets.items() if now - b.stamp > 60.0]
        for key in full or list(self._buckets)[: _MAX_BUCKETS // 10]:
            del self._buckets[key]

    async def close(self) -> None:
        self._buckets.clear()


class RedisRateLimiter(RateLimiter):
    """A fixed one-minute window per identity, counted in Redis (shared by API nodes)."""

    def __init__(self, per_minute: int, url: str) -> None:
        super().__init__(per_minute)
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)

    async def hit(self, identity: str) -> float | None:
        window = int(time.time() // 60)
        key = f"mediavault:ratelimit:{identity}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        if int(count) <= self.capacity:
            return None
        return 60.0 - (time.time() % 60)

    async def close(self) -> None:
        await self._redis.aclose()  # type: ignore[attr-defined]  # stubs predate aclose


def identity_for(credential: str) -> str:
    """A bucket name for a key/token that does not keep the secret in memory."""
    return "key:" + hashlib.sha256(credential.encode()).hexdigest()[:32]
