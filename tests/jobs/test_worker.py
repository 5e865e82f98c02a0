"""Workers in-process on both configurations: events, cancel, retries, limits, drain."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from mediavault.jobs._aiohot import HotPath
from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Job, new_id
from mediavault.jobs.worker import Worker
from mediavault.models import EventType
from mediavault.services import JobService
from tests.jobs import kinds
from tests.jobs.conftest import wait_final, wait_for


async def test_job_runs_and_publishes_the_event_schema(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    async with engine.events.subscribe() as events:
        start_worker()
        job = await service.submit("test_sleep", payload={"seconds": 0.8})
        done = await wait_final(engine, job.id)
        assert done.status == "completed" and done.result == {"slept": 0.8}
        seen = []
        async with asyncio.timeout(5):
            async for event, user_id in events:
                if event.job_id != job.id:
                    continue
                seen.append(event)
                if event.type == EventType.COMPLETED:
                    break
    types = [e.type for e in seen]
    assert types[0] == EventType.QUEUED and types[1] == EventType.STARTED
    assert types[-1] == EventType.COMPLETED and EventType.PROGRESS in types
    progress = [e for e in seen if e.type == EventType.PROGRESS]
    assert progress[-1].downloaded_bytes > 0 and progress[-1].total_bytes
    # throttled: at most ~4 progress events a second (0.8 s of work)
    assert len(progress) <= 6
    assert all(e.ts and e.status for e in seen)


async def test_cancel_of_a_running_job_stops_within_two_seconds(
    engine: Engine, start_worker
) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    # ignore_cancel: the handler never looks at ctx.cancel; the worker must stop it anyway
    job = await service.submit("test_sleep", payload={"seconds": 30, "ignore_cancel": True})
    await wait_for(lambda: _status(engine, job.id, "running"), what="running")
    asked = time.monotonic()
    await service.cancel(job.id)
    done = await wait_final(engine, job.id, timeout=5)
    assert done.status == "cancelled"
    assert time.monotonic() - asked < 2.0
    await asyncio.sleep(engine.settings.reaper_seconds * 3)
    again = await engine.store.get(job.id)
    assert again is not None and again.status == "cancelled"  # never requeued
    assert [r[:2] for r in kinds.runs(engine.settings.data_dir) if r[0] == job.id] == [(job.id, 1)]


async def test_cancel_of_a_queued_job_is_immediate(engine: Engine) -> None:
    service = JobService(engine.settings, engine=engine)
    job = await service.submit("test_noop")
    after = await service.cancel(job.id)
    assert after.status == "cancelled"


async def test_retryable_errors_back_off_then_succeed(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    job = await service.submit("test_fail", payload={"error": "503", "succeed_on": 3})
    done = await wait_final(engine, job.id, timeout=20)
    assert done.status == "completed" and done.attempts == 3
    logs = [entry.message for entry in await engine.store.logs(job.id)]
    delays = [float(m.split()[2].rstrip("s")) for m in logs if m.startswith("retrying in")]
    base = engine.settings.retry_base_seconds
    assert len(delays) == 2
    assert base * 0.75 <= delays[0] <= base * 1.25
    assert base * 2 * 0.75 <= delays[1] <= base * 2 * 1.25


async def test_retries_stop_at_max_attempts_with_the_last_error(
    engine: Engine, start_worker
) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    job = await service.submit("test_fail", payload={"error": "429"}, max_attempts=3)
    done = await wait_final(engine, job.id, timeout=20)
    assert (done.status, done.attempts, done.error_code) == ("failed", 3, "http_error")


async def test_permanent_errors_fail_at_once(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    jobs = {
        code: await service.submit("test_fail", payload={"error": err})
        for code, err in [("unsupported_url", "unsupported"), ("not_found", "notfound"),
                          ("http_error", "404"), ("internal_error", "bug")]
    }
    for code, job in jobs.items():
        done = await wait_final(engine, job.id)
        assert (done.status, done.attempts, done.error_code) == ("failed", 1, code)


async def test_per_host_limit_holds_across_workers(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    kinds.MAX_RUNNING.clear()
    start_worker(concurrency=4)
    start_worker(concurrency=4)
    jobs = [
        await service.submit(
            "test_sleep", url="http://127.0.0.1:9/x", payload={"seconds": 0.3, "group": "h1"}
        )
        for _ in range(8)
    ]
    for job in jobs:
        assert (await wait_final(engine, job.id, timeout=30)).status == "completed"
    assert kinds.MAX_RUNNING["h1"] == engine.settings.host_concurrency == 2


async def test_two_workers_never_run_a_job_twice(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker(concurrency=3)
    start_worker(concurrency=3)
    jobs = [await service.submit("test_noop") for _ in range(60)]
    for _ in range(3):  # duplicates on the queue must not cause duplicate runs
        await engine.send(jobs[:20])
    for job in jobs:
        assert (await wait_final(engine, job.id)).status == "completed"
    counts = Counter(r[0] for r in kinds.runs(engine.settings.data_dir))
    assert set(counts) == {j.id for j in jobs} and set(counts.values()) == {1}


async def test_a_thousand_small_jobs_drain_without_loss_or_duplication(jobs_settings) -> None:
    # a realistic lease: with 2 s, a commit queued behind 16 others on SQLite can outlive
    # it and the job legitimately runs again under a new lease
    engine = Engine.open(jobs_settings.model_copy(update={"lease_seconds": 15.0}))
    workers = [Worker(engine, concurrency=8) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        await _drain(engine)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        engine.close()


async def test_a_worker_outlives_a_failing_queue(
    engine: Engine, start_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking jobs fails (queue or database down): the worker waits and takes again.
    (On PostgreSQL + Redis the worker pops on its own loop: ``HotPath.pop`` fails.)"""
    real_take, real_pop = engine.take, HotPath.pop
    failures = []

    def fail() -> None:
        if len(failures) < 2:
            failures.append(1)
            raise ConnectionError("queue unavailable")

    def take(*args: object) -> object:
        fail()
        return real_take(*args)  # type: ignore[arg-type]

    async def pop(self: HotPath, limit: int, wait: float) -> list[bytes]:
        fail()
        return await real_pop(self, limit, wait)

    monkeypatch.setattr(engine, "take", take)
    monkeypatch.setattr(HotPath, "pop", pop)
    start_worker(concurrency=2, run_reaper=False)
    job = await engine.store.create("test_noop")
    await engine.send([job])
    done = await wait_final(engine, job.id, timeout=10)
    assert done.status == "completed" and len(failures) == 2


async def _drain(engine: Engine) -> None:
    rows = [Job(id=new_id(), kind="test_noop", status="queued", options={}) for _ in range(1000)]
    created = await engine.store.run(engine.store.write, lambda s: (s.add_all(rows), rows)[1])
    await engine.send(created)
    ids = {j.id for j in created}

    async def all_done() -> bool:
        return (await engine.store.counts_by_status()).get("completed", 0) == 1000
    await wait_for(all_done, timeout=90, what="1000 jobs completed")
    counts = Counter(r[0] for r in kinds.runs(engine.settings.data_dir))
    assert set(counts) == ids and set(counts.values()) == {1}


async def _status(engine: Engine, job_id: str, status: str) -> bool:
    job = await engine.store.get(job_id)
    return job is not None and job.status == status
