"""The scheduler claims due subscriptions safely with several schedulers at once
(SQLite and PostgreSQL, via the job-engine fixtures)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from mediavault.jobs.tables import Job
from mediavault.models import JobKind
from mediavault.services import JobService
from mediavault.subscriptions.scheduler import Scheduler
from mediavault.subscriptions.schemas import SubscriptionCreate
from mediavault.subscriptions.store import SubscriptionStore


async def test_concurrent_schedulers_queue_each_due_subscription_once(engine) -> None:
    store = SubscriptionStore.of(engine.database)
    subs = [
        await store.create(None, SubscriptionCreate(url=f"https://fansly.com/creator{i}", interval_seconds=600))
        for i in range(6)
    ]
    await store.create(None, SubscriptionCreate(url="https://fansly.com/off", enabled=False))
    schedulers = [Scheduler(JobService(engine.settings, engine=engine)) for _ in range(4)]
    counts = await asyncio.gather(*(s.tick() for s in schedulers))
    assert sum(counts) == 6
    with engine.database.sessionmaker() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == JobKind.SUBSCRIPTION_SYNC.value)))
    assert sorted(j.subscription_id for j in jobs) == sorted(s.id for s in subs)
    assert sum(await asyncio.gather(*(s.tick() for s in schedulers))) == 0  # not due any more
    row = await store.get(subs[0].id)
    assert row.lease_token is None and (row.next_sync_at - subs[0].next_sync_at).total_seconds() >= 590


async def test_sync_lease_is_exclusive(engine) -> None:
    store = SubscriptionStore.of(engine.database)
    sub = await store.create(None, SubscriptionCreate(url="https://fansly.com/alice"))
    tokens = await asyncio.gather(*(store.claim(sub.id, 30, due_only=False) for _ in range(5)))
    winners = [t for t in tokens if t]
    assert len(winners) == 1
    assert await store.claim(sub.id, 30, due_only=False) is None
    await store.release(sub.id, winners[0], next_sync_at=None, synced=True)
    assert await store.claim(sub.id, 30, due_only=False) is not None
