"""Retry policy: exponential backoff with jitter that honours ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a request is tried again.

    attempts:        total tries, the first one included (1 = no retry)
    backoff_base:    delay before the second try, doubled for each later one
    backoff_max:     cap of the computed delay
    jitter:          +/- fraction of randomness applied to the computed delay
    retry_after_max: a server asking to wait longer than this is not waited for; the
                     error is raised with its ``retry_after`` so a job can be rescheduled
    """

    attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.25
    retry_after_max: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff values must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based).

        A server's ``Retry-After`` wins over the computed backoff (never shortened by
        jitter); otherwise ``backoff_base * 2**(attempt-1)`` capped at ``backoff_max``,
        with jitter.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempt - 1)))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return float(max(0.0, min(base, self.backoff_max * (1 + self.jitter))))

    def gives_up_on(self, retry_after: float | None) -> bool:
        """Whether a ``Retry-After`` this long is beyond our patience."""
        return retry_after is not None and retry_after > self.retry_after_max


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
