"""The subscription scheduler: turns due subscriptions into ``subscription_sync`` jobs.

Any number of schedulers may run (one per worker process): each due subscription is
claimed with the conditional UPDATE in ``SubscriptionStore.claim``, so exactly one of
them queues its job; the next due time moves forward in the same claim/release, and the
job's idempotency key (subscription id + due time) guards the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from mediavault.jobs.tables import utcnow
from mediavault.models import JobKind
from mediavault.subscriptions.store import SubscriptionStore

if TYPE_CHECKING:
    from mediavault.jobs.engine import Engine
    from mediavault.services import JobService

__all__ = ["Scheduler", "start_scheduler"]

log = logging.getLogger("mediavault.subscriptions.scheduler")

RETRY_SECONDS = 60
CLAIM_SECONDS = 30.0


class Scheduler:
    def __init__(self, jobs: JobService, *, poll_seconds: float = 5.0) -> None:
        self.jobs = jobs
        self.store = SubscriptionStore.of(jobs.engine.database)
        self.poll_seconds = poll_seconds

    async def tick(self) -> int:
        """Queue a sync job for every due subscription this scheduler wins; how many."""
        queued = 0
        for sub_id in await self.store.due():
            token = await self.store.claim(sub_id, CLAIM_SECONDS, due_only=True)
            if token is None:
                continue  # another scheduler has it
            sub = await self.store.get(sub_id)
            next_at = utcnow() + timedelta(seconds=sub.interval_seconds)
            try:
                await self.jobs.submit(
                    JobKind.SUBSCRIPTION_SYNC,
                    sub.url,
                    sub.options or {},
                    sub.user_id,
                    subscription_id=sub.id,
                    idempotency_key=f"subsync:{sub.id}:{int(sub.next_sync_at.timestamp())}",
                    title=sub.name or sub.url,
                )
                queued += 1
            except Exception:
                log.exception("subscription %s: could not queue its sync", sub_id)
                next_at = utcnow() + timedelta(seconds=RETRY_SECONDS)
            finally:
                await self.store.release(sub_id, token, next_sync_at=next_at, synced=False)
        return queued

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``poll_seconds`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database went away: try again next tick
                log.exception("subscription scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)


def start_scheduler(engine: Engine, stop: asyncio.Event) -> asyncio.Task[None]:
    """Run a scheduler beside a worker until ``stop`` (the worker starts one per process)."""
    from mediavault.services import JobService

    scheduler = Scheduler(
        JobService(engine.settings, engine=engine),
        poll_seconds=max(engine.settings.reaper_seconds, 2.0),
    )
    return asyncio.create_task(scheduler.run(stop))
