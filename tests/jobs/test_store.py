"""The job store on both databases: claims, leases, idempotency, paging, cancel."""

from __future__ import annotations

import asyncio

import pytest

from mediavault.errors import LeaseLostError
from mediavault.jobs.engine import Engine
from mediavault.jobs.store import JobFilters
from mediavault.models import Progress


async def test_create_get_and_host(engine: Engine) -> None:
    job = await engine.store.create("download", url="https://Example.COM:8443/v?id=1")
    got = await engine.store.get(job.id)
    assert got is not None
    assert (got.status, got.host, got.attempts, got.kind) == ("queued", "example.com", 0, "download")
    assert got.max_attempts == engine.settings.job_max_attempts


async def test_idempotency_key_returns_the_same_job(engine: Engine) -> None:
    first = await engine.store.create("test_noop", idempotency_key="k1")
    second = await engine.store.create("test_noop", idempotency_key="k1")
    other = await engine.store.create("test_noop", idempotency_key="k2")
    assert first.id == second.id != other.id


async def test_only_one_of_many_concurrent_claims_wins(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    tokens = await asyncio.gather(*(engine.store.claim(job.id, f"w{i}") for i in range(12)))
    winners = [t for t in tokens if t]
    assert len(winners) == 1
    claimed = await engine.store.get(job.id)
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
    assert claimed.lease_token == winners[0]


async def test_every_write_checks_the_lease(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    token = await engine.store.claim(job.id, "w1")
    assert token
    assert await engine.store.heartbeat(job.id, token) is False
    with pytest.raises(LeaseLostError):
        await engine.store.heartbeat(job.id, "not-the-token")
    with pytest.raises(LeaseLostError):
        await engine.store.report_progress(job.id, "nope", Progress(item_id="x"))
    with pytest.raises(LeaseLostError):
        await engine.store.complete(job.id, "nope", {})
    done = await engine.store.complete(job.id, token, {"ok": 1})
    assert done.status == "completed" and done.lease_token is None
    with pytest.raises(LeaseLostError):  # a finished job has no lease any more
        await engine.store.heartbeat(job.id, token)


async def test_claim_respects_next_run_at_and_cancel(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    token = await engine.store.claim(job.id, "w")
    assert token
    from mediavault.errors import NetworkError

    await engine.store.retry_later(job.id, token, NetworkError("boom"), delay=30)
    assert await engine.store.claim(job.id, "w") is None  # not due yet
    queued = await engine.store.get(job.id)
    assert queued is not None and queued.status == "queued" and queued.error_code == "network_error"
    cancelled = await engine.store.request_cancel(job.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert await engine.store.claim(job.id, "w") is None


async def test_list_pages_newest_first_with_filters(engine: Engine) -> None:
    ids = []
    for i in range(7):
        job = await engine.store.create("test_noop", user_id=None, title=f"t{i}")
        ids.append(job.id)
    await engine.store.create("test_sleep")
    seen: list[str] = []
    cursor = None
    while True:
        page = await engine.store.list(JobFilters(kind="test_noop"), cursor=cursor, limit=3)
        seen += [j.id for j in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))


async def test_cancel_running_sets_flag_and_heartbeat_reports_it(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    token = await engine.store.claim(job.id, "w")
    assert token
    after = await engine.store.request_cancel(job.id)
    assert after is not None and after.status == "running" and after.cancel_requested
    assert await engine.store.heartbeat(job.id, token) is True
    done = await engine.store.finish_cancelled(job.id, token)
    assert done.status == "cancelled"


async def test_cancel_cascades_to_children(engine: Engine) -> None:
    parent = await engine.store.create("test_expand")
    token = await engine.store.claim(parent.id, "w")
    assert token
    children = await engine.add_children(parent, token, [{"kind": "test_noop"}] * 3, {"offset": 3})
    child_token = await engine.store.claim(children[0].id, "w2")
    assert child_token
    await engine.store.request_cancel(parent.id)
    statuses = {c.id: (await engine.store.get(c.id)) for c in children}
    assert statuses[children[0].id].cancel_requested and statuses[children[0].id].status == "running"
    assert {statuses[c.id].status for c in children[1:]} == {"cancelled"}
    refreshed = await engine.store.get(parent.id)
    assert refreshed is not None and refreshed.items_total == 3 and refreshed.cancel_requested


async def test_logs_in_order(engine: Engine) -> None:
    job = await engine.store.create("test_noop")
    for i in range(5):
        await engine.store.log(job.id, "info", f"line {i}")
    logs = await engine.store.logs(job.id)
    assert [entry.message for entry in logs] == [f"line {i}" for i in range(5)]
    later = await engine.store.logs(job.id, after_id=logs[2].id)
    assert [entry.message for entry in later] == ["line 3", "line 4"]
