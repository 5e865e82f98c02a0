"""The per-job hot path on both databases: combined claim, batched heartbeats, SQL budget."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import event

from mediavault.config import Settings
from mediavault.errors import LeaseLostError
from mediavault.jobs._aiohot import statement_hooks
from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Job
from mediavault.jobs.worker import Worker
from mediavault.models import EventType
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


async def test_a_worker_spends_at_most_two_statements_per_plain_job(
    jobs_settings: Settings,
) -> None:
    """Claim (+ started event) and complete, each one statement in its own transaction:
    no read before the claim, no slot for no host; jobs taken or finished together share
    their claim or completion statement. On PostgreSQL + Redis the worker's own
    connections (``_aiohot``) make them, and a completion and the claim of the next job
    may share one statement."""
    driver = Engine.open(jobs_settings)
    engine = Engine.open(jobs_settings, migrate=False)
    counts: Counter[str] = Counter()

    def checkout(*_args: Any) -> None:
        counts["transactions"] += 1

    def count(sql: str) -> None:
        counts["statements"] += 1
        counts["claims"] += "attempts=(jobs.attempts +" in sql
        counts["completions"] += "finished_at=" in sql.replace(" = ", "=")
        counts["reads"] += sql.startswith("SELECT")

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's explicit BEGIN (IMMEDIATE)
            count(sql)

    def hot_statement(sql: str) -> None:
        counts["transactions"] += 1  # autocommit: one statement, one transaction
        count(sql)

    event.listen(engine.database.engine.pool, "checkout", checkout)
    event.listen(engine.database.engine, "before_cursor_execute", statement)
    statement_hooks.append(hot_statement)
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
        statement_hooks.remove(hot_statement)
        engine.close()
        driver.close()
    n = len(jobs)
    assert counts["transactions"] == counts["statements"] <= 2 * n
    # every statement claims or completes (a shared one does both)
    assert counts["claims"] + counts["completions"] >= counts["statements"]
    assert 1 <= counts["claims"] <= n and 1 <= counts["completions"] <= n
    assert counts["reads"] == 0


async def test_jobs_taken_together_are_claimed_together(engine: Engine, backend: str) -> None:
    """PostgreSQL claims every job that needs no host slot with one statement, each with
    its own lease token; a host-limited job is claimed with its slot; SQLite claims each."""
    plain = [await engine.store.create("test_noop") for _ in range(3)]
    hosted = await engine.store.create("test_sleep", url="http://t.example/a")
    taken = await engine.store.create("test_noop")
    assert (await engine.claim(taken.id, "w0", _host_limited)).job is not None
    ids = [j.id for j in plain] + [hosted.id, taken.id, "no-such-job"]
    statements: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "attempts=(jobs.attempts +" in sql:
            statements.append(sql)

    event.listen(engine.database.engine, "before_cursor_execute", statement)
    plain_kinds = frozenset({"test_noop"})
    claims = await engine.store.run(engine.claim_many, ids, "w1", _host_limited, plain_kinds)
    event.remove(engine.database.engine, "before_cursor_execute", statement)

    got = {job_id: claim for job_id, claim in zip(ids, claims, strict=True)}
    tokens = {got[j.id].job.lease_token for j in plain if got[j.id].job is not None}
    assert len(tokens) == 3 and None not in tokens  # each claimed, each its own lease
    assert got[hosted.id].job is not None and got[hosted.id].slot == 0
    assert got[taken.id].job is None and got["no-such-job"].job is None
    for job in plain:
        now = await engine.store.get(job.id)
        assert now is not None and now.status == "running" and now.attempts == 1
        assert now.lease_token == got[job.id].job.lease_token  # type: ignore[union-attr]
    if backend == "pg":  # one for the plain jobs, then one each for the rest
        assert len(statements) == 1 + 3
    else:
        assert len(statements) == len(ids)


async def test_completions_made_together_share_a_statement(engine: Engine) -> None:
    """Each completion is lease-checked on its own and publishes its own event."""
    jobs = [await engine.store.create("test_noop") for _ in range(6)]
    tokens = [await engine.store.claim(job.id, "w") for job in jobs]
    assert all(tokens)
    completions: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "finished_at=" in sql:
            completions.append(sql)

    event.listen(engine.database.engine, "before_cursor_execute", statement)
    async with engine.events.subscribe() as events:
        results = await asyncio.gather(
            *(
                engine.store.complete(job.id, "stolen" if i == 2 else str(token), {"n": i})
                for i, (job, token) in enumerate(zip(jobs, tokens, strict=True))
            ),
            return_exceptions=True,
        )
        seen: set[str] = set()
        async with asyncio.timeout(5):
            async for evt, _user in events:
                if evt.type == EventType.COMPLETED:
                    seen.add(evt.job_id)
                if len(seen) == 5:
                    break
    event.remove(engine.database.engine, "before_cursor_execute", statement)

    assert isinstance(results[2], LeaseLostError)
    for i, (job, result) in enumerate(zip(jobs, results, strict=True)):
        now = await engine.store.get(job.id)
        assert now is not None
        if i == 2:
            assert now.status == "running" and now.result is None
            continue
        assert isinstance(result, Job) and result.status == "completed"
        assert (now.status, now.result, now.lease_token) == ("completed", {"n": i}, None)
        assert now.finished_at is not None
    assert seen == {job.id for i, job in enumerate(jobs) if i != 2}
    assert len(completions) == 1  # all six asked for at once: one statement
