"""The in-memory job view behind ``GET /download/{id}`` and ``GET /jobs/{id}``
(``api.jobview``): answers from memory, follows job events, never shows a job to anyone
but its owner (and admins), never answers with a status older than the database's once
its event has arrived, and shows changes that publish no event within its TTL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import update

from mediavault import accounts
from mediavault.api.jobview import JobView
from mediavault.config import Settings
from mediavault.jobs.events import event_bus_for
from mediavault.jobs.tables import Job
from mediavault.models import Event, EventType, JobKind, Progress
from mediavault.services import JobService
from tests.api.conftest import Api, ApiFactory
from tests.api.test_users_keys import assert_error

ORIGIN_URL = "http://127.0.0.1:9/video.mp4"  # never fetched: no worker runs here


def _count_reads(view: JobView) -> list[str]:
    """Record every database read the view makes."""
    reads: list[str] = []
    fetch = view._fetch

    async def counted(job_id: str) -> Job | None:
        reads.append(job_id)
        return await fetch(job_id)

    view._fetch = counted
    return reads


async def _live(view: JobView) -> None:
    async with asyncio.timeout(10):
        while not view.enabled:
            await asyncio.sleep(0.02)


async def _submit(api: Api) -> str:
    async with api.client(api.alice) as alice:
        created = await alice.post("/api/v1/download", json={"url": ORIGIN_URL})
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


def _event(type_: EventType, job_id: str, status: str, done: int = 0) -> Event:
    return Event(
        type=type_,
        job_id=job_id,
        status=status,
        downloaded_bytes=done,
        ts=datetime.now(UTC).isoformat(),
    )


# through the API -------------------------------------------------------------------------


async def test_polls_come_from_memory_and_follow_every_event(start_api: ApiFactory) -> None:
    api = start_api(job_view_seconds=30)  # only events can change what the view shows
    view = api.services.job_view
    await _live(view)
    job_id = await _submit(api)
    reads = _count_reads(view)
    store = api.services.jobs.store
    async with api.client(api.alice) as alice:
        url = f"/api/v1/download/{job_id}"
        polls = [(await alice.get(url)).json() for _ in range(5)]
        assert {p["status"] for p in polls} == {"queued"} and reads == [job_id]

        claimed = await store.claim_job(job_id, "test-worker")  # publishes job.started
        assert claimed is not None and claimed.lease_token
        running = (await alice.get(url)).json()
        assert running["status"] == "running" and running["started_at"] is not None
        assert len(reads) == 2  # the status change was read from the database

        progress = Progress(item_id="a", downloaded_bytes=1000, total_bytes=4000, speed=5e5)
        await store.report_progress(job_id, claimed.lease_token, progress)  # job.progress
        shown = (await alice.get(url)).json()["progress"]
        assert shown["downloaded_bytes"] == 1000 and shown["total_bytes"] == 4000
        assert shown["percent"] == 25.0 and shown["speed"] == 5e5
        assert len(reads) == 2  # progress comes with its event: no read
        assert (await alice.get(f"/api/v1/jobs/{job_id}")).json()["progress"] == shown

        await store.complete(job_id, claimed.lease_token, {"note": "done"})  # job.completed
        final = (await alice.get(url)).json()
        assert final["status"] == "completed" and final["finished_at"] is not None
        assert final["result"] == {"note": "done"} and len(reads) == 3  # from the database


async def test_only_the_owner_and_admins_see_a_job_held_in_memory(
    start_api: ApiFactory,
) -> None:
    api = start_api(job_view_seconds=30)
    view = api.services.job_view
    await _live(view)
    job_id = await _submit(api)
    async with api.client(api.alice) as alice:
        mine = await alice.get(f"/api/v1/download/{job_id}")
        assert mine.status_code == 200
    reads = _count_reads(view)
    async with api.client(api.bob) as bob:
        for _ in range(2):
            assert_error(await bob.get(f"/api/v1/download/{job_id}"), 404, "not_found")
            assert_error(await bob.get(f"/api/v1/jobs/{job_id}"), 404, "not_found")
    async with api.client(api.admin) as admin:
        theirs = await admin.get(f"/api/v1/download/{job_id}")
        assert theirs.status_code == 200 and theirs.json() == mine.json()
    assert reads == []  # every answer above came from the view, checked per caller
    async with api.client(api.bob) as bob:
        missing = await bob.get(f"/api/v1/download/{uuid.uuid4().hex}")
        assert_error(missing, 404, "not_found")
        assert missing.json()["error"]["message"].startswith("no job ")


async def test_a_change_without_an_event_shows_within_the_ttl(start_api: ApiFactory) -> None:
    api = start_api(job_view_seconds=0.5)
    await _live(api.services.job_view)
    job_id = await _submit(api)
    async with api.client(api.alice) as alice:
        assert (await alice.get(f"/api/v1/download/{job_id}")).json()["title"] is None
        changed = time.monotonic()
        with api.services.db.sessionmaker() as session:  # as another node would: no event
            session.execute(update(Job).where(Job.id == job_id).values(title="renamed"))
            session.commit()
        async with asyncio.timeout(5):
            while (await alice.get(f"/api/v1/download/{job_id}")).json()["title"] is None:
                await asyncio.sleep(0.02)
    assert time.monotonic() - changed < 0.5 + 0.25  # the TTL, and scheduling slack


async def test_a_cancel_through_the_api_shows_at_once(start_api: ApiFactory) -> None:
    api = start_api(job_view_seconds=30)
    await _live(api.services.job_view)
    job_id = await _submit(api)
    claimed = await api.services.jobs.store.claim_job(job_id, "test-worker")
    assert claimed is not None
    async with api.client(api.alice) as alice:
        url = f"/api/v1/download/{job_id}"
        before = (await alice.get(url)).json()
        assert before["status"] == "running" and before["cancel_requested"] is False
        cancelled = await alice.delete(url)  # running: only a flag, no event
        assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
        assert (await alice.get(url)).json()["cancel_requested"] is True


async def test_without_a_ttl_every_read_goes_to_the_database(start_api: ApiFactory) -> None:
    api = start_api(job_view_seconds=0)
    view = api.services.job_view
    job_id = await _submit(api)
    reads = _count_reads(view)
    async with api.client(api.alice) as alice:
        for _ in range(3):
            assert (await alice.get(f"/api/v1/download/{job_id}")).status_code == 200
    assert not view.enabled and reads == []  # the view was never asked


async def test_the_view_follows_events_over_redis(start_api: ApiFactory) -> None:
    api = start_api(
        job_view_seconds=30,
        queue_url="redis://127.0.0.1:6379/13",
        queue_name=f"mvtest-{uuid.uuid4().hex[:8]}",  # a channel of its own
    )
    view = api.services.job_view
    await _live(view)  # subscribed on Redis
    store = api.services.jobs.store
    job = await store.create(JobKind.DOWNLOAD, url=ORIGIN_URL, user_id=api.alice.user_id)
    async with api.client(api.alice) as alice:
        url = f"/api/v1/download/{job.id}"
        assert (await alice.get(url)).json()["status"] == "queued"
        assert (await alice.get(url)).json()["status"] == "queued"  # held in memory
        await store.claim_job(job.id, "test-worker")  # job.started, over Redis pub/sub
        async with asyncio.timeout(5):  # the TTL is 30 s: only the event can do this
            while (await alice.get(url)).json()["status"] != "running":
                await asyncio.sleep(0.02)


# the view itself -------------------------------------------------------------------------


async def _service_with_job(settings: Settings) -> tuple[JobService, Job]:
    service = JobService(settings)
    with service.store._sm() as session:
        owner = accounts.create_user(session, "owner").id
    return service, await service.store.create(JobKind.DOWNLOAD, url=ORIGIN_URL, user_id=owner)


async def _view_with_job(
    make_settings: Callable[..., Settings], fetch_gate: asyncio.Event | None = None
) -> tuple[JobView, JobService, Job, list[str]]:
    service, job = await _service_with_job(make_settings())
    reads: list[str] = []

    async def fetch(job_id: str) -> Job | None:
        reads.append(job_id)
        if fetch_gate is not None:
            await fetch_gate.wait()
        return await service.store.get(job_id)

    view = JobView(30, fetch)
    view.reset(live=True)
    return view, service, job, reads


async def test_concurrent_misses_share_one_read(make_settings: Callable[..., Settings]) -> None:
    view, service, job, reads = await _view_with_job(make_settings)
    try:
        snaps = await asyncio.gather(*(view.read(job.id) for _ in range(20)))
        assert len(reads) == 1
        assert {s.public.id for s in snaps if s is not None} == {job.id}
        assert all(s is not None and s.owner == job.user_id for s in snaps)
        assert await view.read("no-such-job") is None
    finally:
        service.close()


async def test_a_read_that_started_before_an_event_is_not_kept(
    make_settings: Callable[..., Settings],
) -> None:
    gate = asyncio.Event()
    view, service, job, reads = await _view_with_job(make_settings, gate)
    try:
        early = asyncio.create_task(view.read(job.id))
        await asyncio.sleep(0.05)  # the read is in flight...
        view.apply(_event(EventType.STARTED, job.id, "running"))  # ...when the job changes
        late = asyncio.create_task(view.read(job.id))  # must not join the earlier read
        await asyncio.sleep(0.05)
        assert len(reads) == 2
        gate.set()
        await asyncio.gather(early, late)
        assert await view.read(job.id) is not None
        assert len(reads) == 2  # the later read was kept, the earlier one was not
    finally:
        service.close()


async def test_a_late_progress_event_after_a_status_change_is_not_applied(
    make_settings: Callable[..., Settings],
) -> None:
    view, service, job, reads = await _view_with_job(make_settings)
    try:
        first = await view.read(job.id)
        assert first is not None and first.public.status == "queued"
        view.apply(_event(EventType.PROGRESS, job.id, "running", done=10))  # not "queued"
        again = await view.read(job.id)
        assert again is not None and again.public.progress.downloaded_bytes == 0
        assert len(reads) == 2  # re-read, not patched
    finally:
        service.close()


class _FailingFeed:
    """A Redis subscription that delivers nothing and then loses its connection."""

    def __init__(self, fail: asyncio.Event) -> None:
        self.fail = fail

    async def __aenter__(self) -> _FailingFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> _FailingFeed:
        return self

    async def __anext__(self) -> tuple[Event, str | None]:
        await self.fail.wait()
        raise ConnectionError("redis went away")


class _RedisBus:
    redis_url = "redis://127.0.0.1:6379/13"

    def __init__(self) -> None:
        self.fail = asyncio.Event()
        self.subscribed = 0

    def subscribe(self) -> _FailingFeed:
        self.subscribed += 1
        return _FailingFeed(self.fail)


async def test_a_lost_subscription_empties_the_view_until_it_is_back(
    make_settings: Callable[..., Settings],
) -> None:
    view, service, job, reads = await _view_with_job(make_settings)
    view.reset(live=False)  # live only once follow() has subscribed
    bus = _RedisBus()
    following = asyncio.create_task(view.follow(bus))  # type: ignore[arg-type]
    try:
        await _live(view)
        await view.read(job.id)
        await view.read(job.id)
        assert len(reads) == 1
        bus.fail.set()  # events may be lost from now on: the view must not be used
        async with asyncio.timeout(5):
            while view.enabled:
                await asyncio.sleep(0.01)
        await view.read(job.id)
        assert len(reads) == 2  # what it held is gone
        bus.fail = asyncio.Event()
        await _live(view)  # subscribed again after a pause
        assert bus.subscribed == 2
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        service.close()
    assert not view.enabled


async def _never(_job_id: str) -> Job | None:
    raise AssertionError("not expected to read")


async def test_a_view_without_a_ttl_never_follows(make_settings: Callable[..., Settings]) -> None:
    view = JobView(0, _never)
    bus = event_bus_for(make_settings())
    await asyncio.wait_for(view.follow(bus), 1)  # returns at once
    assert not view.enabled
