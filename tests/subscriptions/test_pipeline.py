"""End to end through the job engine (SQLite+SqliteHuey and PostgreSQL+Redis):
subscription sync of the local RSS channel fixture, and the scrape -> download pipeline of
an emulated creator profile. Real worker, real downloads into the configured storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Job, MediaFile
from mediavault.jobs.worker import Worker
from mediavault.models import JobKind, JobStatus
from mediavault.services import JobService
from mediavault.subscriptions.schemas import SubscriptionCreate
from mediavault.subscriptions.store import CredentialStore, SubscriptionStore
from tests.emulators import onlyfans as of_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import drm_requests, write_rules
from tests.emulators.onlyfans import OnlyFansEmulator
from tests.jobs.conftest import wait_final
from tests.support.media import feed_xml
from tests.support.origin import Origin

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def of_server(media_root: Path):
    with OnlyFansEmulator(media_root, make_catalog(posts=12, drm_posts=(2,), locked_posts=(5,),
                                                  photo_every=0, messages=0, stories=0, highlights=0)) as emu:
        yield emu


@pytest.fixture
async def stack(jobs_settings, of_server, tmp_path) -> AsyncIterator[tuple[Engine, JobService]]:
    settings = jobs_settings.model_copy(update={
        "onlyfans_api_base": of_server.base_url, "onlyfans_rules": str(write_rules(tmp_path)),
        "max_retries": 1,
    })
    engine = Engine.open(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(engine).run(stop))
    try:
        yield engine, JobService(settings, engine=engine)
    finally:
        stop.set()
        await task
        engine.close()


def _count(engine: Engine, stmt) -> int:
    with engine.database.sessionmaker() as session:
        return int(session.scalar(stmt) or 0)


async def test_rss_subscription_downloads_n_then_exactly_the_new_two(stack, origin: Origin) -> None:
    engine, jobs = stack
    count = {"n": 10}
    origin.routes["/feed.rss"] = lambda req: (200, {"Content-Type": "application/rss+xml"},
                                              feed_xml(origin.base_url, count["n"]))
    store = SubscriptionStore.of(engine.database)
    sub = await store.create(None, SubscriptionCreate(url=origin.url("/feed.rss")))
    first = await jobs.submit(JobKind.SUBSCRIPTION_SYNC, sub.url, subscription_id=sub.id)
    done = await wait_final(engine, first.id, timeout=90)
    assert done.status == JobStatus.COMPLETED, (done.error_code, done.error_message)
    assert done.items_done == 10
    assert _count(engine, select(func.count()).select_from(MediaFile)) == 10
    count["n"] = 12
    origin.reset_stats()
    second = await jobs.submit(JobKind.SUBSCRIPTION_SYNC, sub.url, subscription_id=sub.id)
    done = await wait_final(engine, second.id, timeout=60)
    assert done.status == JobStatus.COMPLETED and done.items_done == 2
    assert _count(engine, select(func.count()).select_from(MediaFile)) == 12
    clips = {p for p in origin.requests if p.startswith("/feed/clip")}
    assert clips == {"/feed/clip11.mp4", "/feed/clip12.mp4"}
    assert origin.requests["/feed.rss"] <= 3  # listing once (plus yt-dlp's own probes)
    assert sum(origin.requests.values()) <= 3 + 2 * 4
    row = await store.get(sub.id)
    assert row.last_sync_at is not None and row.state["last_result"]["taken"] == 2


async def test_profile_scrape_queues_downloads_and_skips_archived(stack, of_server) -> None:
    engine, jobs = stack
    await CredentialStore.of(engine.database, engine.settings).set(None, "onlyfans", dict(of_emu.AUTH))
    job = await jobs.submit(JobKind.PROFILE_SCRAPE, "https://onlyfans.com/alice/posts")
    done = await wait_final(engine, job.id, timeout=90)
    assert done.status == JobStatus.COMPLETED, (done.error_code, done.error_message)
    assert done.items_total == 12  # 12 posts, the locked one included
    # skipped: the DRM one and the locked one, each with its reason
    assert done.items_done + done.items_skipped == 12 and done.items_skipped == 2
    assert drm_requests(of_server) == 0
    with engine.database.sessionmaker() as session:
        children = list(session.scalars(select(Job).where(Job.parent_id == job.id)))
        drm_child = next(c for c in children if c.payload["item"]["id"] == "100002")
        assert drm_child.status == JobStatus.SKIPPED and drm_child.error_code == "drm_protected"
        locked_child = next(c for c in children if c.payload["item"]["id"] == "100005")
        assert locked_child.status == JobStatus.SKIPPED
        assert locked_child.error_code == "content_locked"
    again = await jobs.submit(JobKind.PROFILE_SCRAPE, "https://onlyfans.com/alice/posts")
    done = await wait_final(engine, again.id, timeout=60)
    assert done.status == JobStatus.COMPLETED and done.result["sync"]["taken"] == 0
    assert done.result["sync"]["known"] == 12


async def test_worker_schedules_due_subscriptions(stack, of_server) -> None:
    engine, _ = stack
    await CredentialStore.of(engine.database, engine.settings).set(None, "onlyfans", dict(of_emu.AUTH))
    store = SubscriptionStore.of(engine.database)
    sub = await store.create(None, SubscriptionCreate(url="https://onlyfans.com/alice/posts", mode="new"))

    def sync_jobs() -> list[Job]:
        with engine.database.sessionmaker() as session:
            return list(session.scalars(select(Job).where(Job.subscription_id == sub.id)))

    deadline = asyncio.get_running_loop().time() + 30
    while not sync_jobs() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    (job,) = sync_jobs()
    done = await wait_final(engine, job.id, timeout=30)
    assert done.kind == JobKind.SUBSCRIPTION_SYNC and done.status == JobStatus.COMPLETED
    assert done.result["sync"]["stopped"] == "baseline"  # "only new from now on": nothing yet
    row = await store.get(sub.id)
    assert row.last_sync_at is not None and len(row.state["baseline"]["keys"]) == 10
    assert (row.next_sync_at - row.last_sync_at).total_seconds() > 3000
