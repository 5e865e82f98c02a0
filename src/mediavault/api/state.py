"""What one API process holds: settings, database, job service, event bus, guards, caches,
metrics.

Built once by ``create_app`` and reached from requests through ``api.deps``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from mediavault.config import Settings
from mediavault.errors import ConfigError
from mediavault.jobs.db import Database

if TYPE_CHECKING:
    from mediavault.api.authcache import AuthCache
    from mediavault.api.jobview import JobView
    from mediavault.api.metrics import Metrics
    from mediavault.api.ratelimit import RateLimiter
    from mediavault.jobs.events import EventBus
    from mediavault.net.guard import HostPolicy
    from mediavault.services import JobService
    from mediavault.storage.base import StorageBackend

__all__ = ["HealthState", "Services", "check_bind", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str | None = None) -> None:
    """``MEDIAVAULT_AUTH=none`` only when the service listens on loopback alone."""
    bind = host if host is not None else settings.host
    if settings.auth == "none" and not is_loopback_host(bind):
        raise ConfigError(
            f"MEDIAVAULT_AUTH=none is only allowed on a loopback address, not {bind!r}; "
            "set MEDIAVAULT_AUTH=apikey or jwt"
        )


@dataclass
class HealthState:
    """The last /health outcome (JSON body, status) and when it goes stale."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    result: tuple[bytes, int] | None = None
    expires: float = 0.0
    refreshing: asyncio.Task[None] | None = None  # the one probe running now, if any


class Services:
    """Process-wide service objects; the expensive ones are created on first use."""

    def __init__(self, settings: Settings, *, database: Database | None = None) -> None:
        self.settings = settings
        self.db = database or Database(settings)
        self.local_admin_id: str | None = None
        self.health = HealthState()

    @cached_property
    def jobs(self) -> JobService:
        from mediavault.services import JobService

        return JobService(self.settings, self.db)

    @cached_property
    def bus(self) -> EventBus:
        return self.jobs.bus

    @cached_property
    def policy(self) -> HostPolicy:
        from mediavault.net.guard import HostPolicy

        return HostPolicy.from_settings(self.settings)

    @cached_property
    def storage(self) -> StorageBackend:
        from mediavault.storage import open_storage

        return open_storage(self.settings.effective_storage_url, self.settings)

    @cached_property
    def limiter(self) -> RateLimiter:
        from mediavault.api.ratelimit import RateLimiter, RedisRateLimiter

        per_minute = self.settings.rate_limit_per_minute
        url = self.settings.queue_url
        if url and url.startswith("redis"):  # shared by every API process
            return RedisRateLimiter(per_minute, url)
        return RateLimiter(per_minute)

    @cached_property
    def auth_cache(self) -> AuthCache:
        from mediavault.api.authcache import AuthCache

        return AuthCache(self.settings.auth_cache_seconds)

    @cached_property
    def job_view(self) -> JobView:
        from mediavault.api.jobview import JobView

        return JobView(self.settings.job_view_seconds, self.jobs.store.get)

    @cached_property
    def metrics(self) -> Metrics:
        from mediavault.api.metrics import Metrics

        return Metrics(self)

    def close(self) -> None:
        self.db.dispose()
