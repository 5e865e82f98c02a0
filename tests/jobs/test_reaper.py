"""The reaper: stale leases, lost messages, several reapers at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from mediavault.jobs.engine import Engine
from mediavault.jobs.reaper import Reaper
from mediavault.jobs.tables import Job, utcnow


async def _expire(engine: Engine, job_id: str) -> None:
    stmt = (
        update(Job)
        .where(Job.id == job_id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    await engine.store.run(engine.store.write, lambda s: s.execute(stmt))


async def test_stale_lease_goes_back_to_queued_with_backoff(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    token = await engine.store.claim(job.id, "dead-worker")
    assert token
    await _expire(engine, job.id)
    reaped_at = utcnow()
    report = await Reaper(engine).tick()
    assert report.requeued == 1
    back = await engine.store.get(job.id)
    assert back is not None
    assert (back.status, back.lease_token, back.error_code) == ("queued", None, "worker_lost")
    # backoff before the retry: at least the jittered first delay after the reap (measured
    # from the reap, not from now, so a slow machine cannot outrun the small test delay)
    least = timedelta(seconds=engine.settings.retry_base_seconds * 0.75)
    assert back.attempts == 1 and back.next_run_at >= reaped_at + least


async def test_stale_lease_past_max_attempts_fails(engine: Engine) -> None:
    job = await engine.store.create("test_noop", max_attempts=1)
    assert await engine.store.claim(job.id, "dead-worker")
    await _expire(engine, job.id)
    report = await Reaper(engine).tick()
    assert report.failed == 1
    failed = await engine.store.get(job.id)
    assert failed is not None and (failed.status, failed.error_code) == ("failed", "worker_lost")


async def test_many_reapers_requeue_each_job_exactly_once(engine: Engine) -> None:
    jobs = [await engine.store.create("test_noop") for _ in range(10)]
    for job in jobs:
        assert await engine.store.claim(job.id, "dead")
        await _expire(engine, job.id)
    reports = await asyncio.gather(*(Reaper(engine).tick() for _ in range(5)))
    assert sum(r.requeued for r in reports) == 10
    for job in jobs:
        got = await engine.store.get(job.id)
        assert got is not None and got.status == "queued"


async def test_lost_queue_message_is_sent_again(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    await engine.send([job])
    taken = await asyncio.to_thread(engine.dispatcher.dequeue, 1.0)  # a worker died with it
    assert taken == job.id
    old = utcnow() - timedelta(seconds=engine.settings.lease_seconds + 1)
    stmt = update(Job).where(Job.id == job.id).values(dispatched_at=old)
    await engine.store.run(engine.store.write, lambda s: s.execute(stmt))
    reports = await asyncio.gather(*(Reaper(engine).tick() for _ in range(3)))
    assert sum(r.sent for r in reports) == 1
    assert await asyncio.to_thread(engine.dispatcher.dequeue, 1.0) == job.id


async def test_never_sent_jobs_are_sent(engine: Engine) -> None:
    job = await engine.store.create("test_noop")  # committed, but the process died before send
    report = await Reaper(engine).tick()
    assert report.sent == 1
    assert await asyncio.to_thread(engine.dispatcher.dequeue, 1.0) == job.id
    assert (await Reaper(engine).tick()).sent == 0  # sent recently: not again
