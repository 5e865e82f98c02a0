"""Expanding jobs: paged children, parent aggregation, resume after a crash, cancel."""

from __future__ import annotations

from collections import Counter

from mediavault.jobs.engine import Engine
from mediavault.services import JobService
from tests.jobs import kinds
from tests.jobs.conftest import Processes, wait_final, wait_for


async def test_parent_expands_in_pages_and_aggregates(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker(concurrency=4)
    parent = await service.submit("test_expand", payload={"count": 25, "page": 4})
    done = await wait_final(engine, parent.id, timeout=30)
    assert done.status == "completed"
    assert (done.items_total, done.items_done, done.items_failed) == (25, 25, 0)
    assert done.result == {"children": 25, "completed": 25, "failed": 0, "skipped": 0,
                           "cancelled": 0}
    assert done.expand_cursor == {"offset": 25}
    assert await engine.store.counts_by_status(parent.id) == {"completed": 25}


async def test_parent_fails_when_every_child_fails(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    parent = await service.submit(
        "test_expand",
        payload={"count": 3, "child": "test_fail", "child_payload": {"error": "404"}},
    )
    done = await wait_final(engine, parent.id, timeout=30)
    assert (done.status, done.error_code, done.items_failed) == ("failed", "children_failed", 3)


async def test_expansion_is_cancellable(engine: Engine, start_worker) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker(concurrency=2)
    parent = await service.submit(
        "test_expand",
        payload={"count": 1000, "page": 5, "page_delay": 0.1, "child": "test_sleep",
                 "child_payload": {"seconds": 5}},
    )

    async def expanding() -> bool:
        job = await engine.store.get(parent.id)
        return job is not None and (job.items_total or 0) >= 10

    await wait_for(expanding, timeout=15, what="expansion under way")
    await service.cancel(parent.id)
    done = await wait_final(engine, parent.id, timeout=5)
    assert done.status == "cancelled" and (done.items_total or 0) < 1000

    async def children_final() -> dict[str, int] | None:
        counts = await engine.store.counts_by_status(parent.id)
        return counts if set(counts) <= {"cancelled", "completed"} else None

    counts = await wait_for(children_final, timeout=3, what="children stopped")
    assert counts.get("cancelled", 0) >= 1 and sum(counts.values()) == done.items_total


async def test_expansion_resumes_after_the_worker_dies(
    engine: Engine, processes: Processes
) -> None:
    service = JobService(engine.settings, engine=engine)
    parent = await service.submit(
        "test_expand", payload={"count": 12, "page": 3, "crash_after": 6}, max_attempts=5
    )
    crashing = processes.spawn(concurrency=2)
    crashing.wait(timeout=20)  # the handler calls os._exit(1) after two pages
    mid = await engine.store.get(parent.id)
    assert mid is not None and mid.expand_cursor == {"offset": 6} and mid.items_total == 6
    # the retry must not crash again: drop crash_after from the payload
    from sqlalchemy import update

    from mediavault.jobs.tables import Job

    stmt = update(Job).where(Job.id == parent.id).values(payload={"count": 12, "page": 3})
    await engine.store.run(engine.store.write, lambda s: s.execute(stmt))
    processes.spawn(concurrency=2)
    done = await wait_final(engine, parent.id, timeout=30)
    assert done.status == "completed" and done.items_total == 12 and done.items_done == 12
    children = await engine.store.children(parent.id, limit=100)
    titles = Counter(c.title for c in children.items)
    assert len(titles) == 12 and set(titles.values()) == {1}  # no duplicate children
    assert len([r for r in kinds.runs(engine.settings.data_dir) if r[0] == parent.id]) == 2
