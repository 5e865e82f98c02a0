"""The per-job hot path on both databases: combined claim, batched heartbeats, SQL budget."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import event

from mediavault.config import Settings
from mediavault.jobs.engine import Engine
from mediavault.jobs.worker import Worker
from tests.jobs.conftest import wait_final


def _host_limited(kind: str) -> bool:
    return kind == "test_sleep"


async def test_claim_takes_the_job_and_its_host_slot_in_one_transaction(engine: Engine) -> None:
    job = await engine.store.create("test_sleep", url="http://media.example/a")
    claim = await engine.claim(job.id, "w1", _host_limited)
    assert claim.job is not None and claim.slot == 0 and not claim.host_busy
    assert claim.job.status == "running" and claim.job.attempts == 1
    assert claim.job.lease_token and claim.job.url == "http://media.example/a"
    assert await engine.limits.held("media.example") == 1
    # a second claim of the same job loses and takes no slot
    again = await engine.claim(job.id, "w2", _host_limited)
    assert again.job is None and again.slot is None
    assert await engine.limits.held("media.example") == 1


async def test_a_full_host_rolls_the_claim_back_and_defers(engine: Engine) -> None:
    limit = engine.settings.host_concurrency
    holders = [
        await engine.store.create("test_sleep", url=f"http://h.example/{i}") for i in range(limit)
    ]
    for holder in holders:
        assert (await engine.claim(holder.id, "w1", _host_limited)).slot is not None
    job = await engine.store.create("test_sleep", url="http://h.example/late")
    claim = await engine.claim(job.id, "w1", _host_limited)
    assert claim.host_busy and claim.job is None
    after = await engine.store.get(job.id)
    assert after is not None
    # not an attempt, not running, waiting for the host with a later due time
    assert (after.status, after.attempts, after.stage, after.lease_token) == (
        "queued",
        0,
        "host_wait",
        None,
    )
    assert after.next_run_at > after.created_at
    assert await engine.limits.held("h.example") == limit


async def test_claim_skips_host_slots_for_kinds_that_are_not_host_limited(engine: Engine) -> None:
    job = await engine.store.create("test_noop", url="http://free.example/x")
    claim = await engine.claim(job.id, "w1", _host_limited)
    assert claim.job is not None and claim.slot is None
    assert await engine.limits.held("free.example") == 0


async def test_heartbeat_many_renews_all_leases_in_one_call(engine: Engine) -> None:
    store = engine.store
    jobs = [await store.create("test_sleep", url=f"http://b.example/{i}") for i in range(3)]
    claims = [await engine.claim(j.id, "w1", _host_limited) for j in jobs[:2]]
    plain = await store.create("test_noop")
    plain_claim = await engine.claim(plain.id, "w1", _host_limited)
    leased = [c.job for c in (*claims, plain_claim)]
    assert all(j is not None and j.lease_token for j in leased)
    leases = {j.id: j.lease_token for j in leased if j is not None and j.lease_token}
    before = {j.id: j.lease_expires_at for j in leased if j is not None}

    await store.request_cancel(plain.id)  # running: flagged, still leased
    stolen = claims[1].job
    assert stolen is not None
    await store.release(stolen.id, leases[stolen.id])  # its lease is gone now
    leases["not-a-job"] = "not-a-token"

    await asyncio.sleep(0.05)
    held = await store.heartbeat_many(leases, [c.job.id for c in claims if c.job])
    first = claims[0].job
    assert first is not None
    assert held == {first.id: False, plain.id: True}
    renewed = await store.get(first.id)
    assert renewed is not None and renewed.lease_expires_at is not None
    assert renewed.lease_expires_at > before[first.id]  # type: ignore[operator]
    assert await store.heartbeat_many({}) == {}


async def test_a_worker_spends_two_transactions_per_plain_job(jobs_settings: Settings) -> None:
    """Claim (+ started event) and complete: no read before the claim, no slot for no host."""
    driver = Engine.open(jobs_settings)
    engine = Engine.open(jobs_settings, migrate=False)
    counts: Counter[str] = Counter()

    def checkout(*_args: Any) -> None:
        counts["transactions"] += 1

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's explicit BEGIN (IMMEDIATE)
            counts["statements"] += 1

    event.listen(engine.database.engine.pool, "checkout", checkout)
    event.listen(engine.database.engine, "before_cursor_execute", statement)
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(engine, concurrency=4, run_reaper=False).run(stop))
    try:
        jobs = [await driver.store.create("test_noop") for _ in range(12)]
        await driver.send(jobs)
        for job in jobs:
            done = await wait_final(driver, job.id)
            assert done.status == "completed" and done.result == {"ok": True}
    finally:
        stop.set()
        await task
        engine.close()
        driver.close()
    assert counts["transactions"] == 2 * len(jobs)
    assert counts["statements"] == 2 * len(jobs)
