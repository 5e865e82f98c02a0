"""Per-host request rate limiting (a token bucket per host)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

__all__ = ["HostRateLimiter", "RateLimit"]


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """``per_second`` requests per host on average, bursts of up to ``burst``."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0:
            raise ValueError("per_second must be > 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")


class HostRateLimiter:
    """Delays requests so no host sees more than its ``RateLimit``."""

    def __init__(self, limit: RateLimit | None, *, per_host: dict[str, RateLimit] | None = None):
        self._default = limit
        self._per_host = {k.lower(): v for k, v in (per_host or {}).items()}
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def limit_for(self, host: str) -> RateLimit | None:
        return self._per_host.get(host.lower(), self._default)

    async def acquire(self, host: str) -> float:
        """Wait for a request slot towards ``host``; returns the seconds waited."""
        limit = self.limit_for(host)
        if limit is None:
            return 0.0
        async with self._lock:
            now = time.monotonic()
            tokens = self._tokens.get(host, float(limit.burst))
            last = self._stamp.get(host, now)
            tokens = min(float(limit.burst), tokens + (now - last) * limit.per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / limit.per_second
            # reserve the token now: later callers queue behind this one
            self._tokens[host] = tokens - 1
            self._stamp[host] = now
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
