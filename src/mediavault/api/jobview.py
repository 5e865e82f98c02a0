"""An in-memory view of the jobs being polled, so a status read needs no database read.

A client polling ``GET /download/{id}`` while downloads run would otherwise cost a
database read (and a thread hop) per request. The view keeps each polled job as the
database last had it and keeps it current from the job events this process receives
(from the embedded worker over its pipe, from ``mediavault worker`` processes over Redis
pub/sub, from its own writes):

- a ``job.progress`` event carries the new byte counts, speed and ETA, written to the
  database just before it was published: they replace the snapshot's;
- any other event (a status change: started, completed, failed, cancelled, requeued...)
  discards the snapshot, so the next read goes to the database. Every status change
  publishes its event after its commit, so a status from the view is never older than
  the database's once the event has arrived; a final status always comes from the
  database;
- a snapshot is used for at most ``settings.job_view_seconds`` (default 1 s) after its
  database read, which bounds how long a change that publishes no event stays unseen (the
  stage or title written with progress, item counts, a cancel flag set by another API
  node). A snapshot read often is re-read in the background before it runs out;
- a database read that started before an event about its job does not become a snapshot
  (it may predate the change the event announces); neither does one that started before
  the view was (re)connected to the event stream. In-process events (embedded worker,
  this process's own writes) reach the view from the publishing thread, ahead of any
  request that arrives after them; when the Redis subscription fails the view empties
  itself and is not used until it is subscribed again;
- concurrent misses for one job share one database read.

The view answers with the owner's id; callers check ownership on every read exactly as
on a database read. Everything here runs on the API's event loop: no locks.

    snap = await view.read(job_id)        # _Snapshot(owner, public) or None (no such job)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mediavault.api.schemas.jobs import JobPublic, job_public, progress_public
from mediavault.jobs.events import EventBus
from mediavault.jobs.tables import Job
from mediavault.models import Event, EventType

__all__ = ["JobView", "Snapshot"]

log = logging.getLogger("mediavault.api.jobview")

MAX_JOBS = 10_000  # snapshots kept (least recently stored dropped first)
MAX_TOUCHED = 10_000  # recent events remembered to guard reads in flight
RESUBSCRIBE_SECONDS = 1.0
REFRESH_AHEAD = 0.5  # a snapshot read after this share of its TTL is re-read in the background

Fetch = Callable[[str], Awaitable[Job | None]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    owner: str | None
    public: JobPublic
    read_at: float  # when its database read started (time.monotonic)


class JobView:
    def __init__(self, ttl: float, fetch: Fetch) -> None:
        self.ttl = ttl
        self.live = False  # subscribed to the event stream: snapshots may be used
        self._fetch = fetch
        self._jobs: OrderedDict[str, Snapshot] = OrderedDict()
        self._loading: dict[str, asyncio.Task[Snapshot | None]] = {}
        self._seq = 0  # counts events and resets
        self._touched: OrderedDict[str, int] = OrderedDict()  # job id -> seq of its last event
        self._floor = 0  # reads that started below this seq may not become snapshots

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.live

    async def read(self, job_id: str) -> Snapshot | None:
        """The job (any owner) from memory, else from one database read shared by every
        concurrent caller; None when there is no such job."""
        snap = self._jobs.get(job_id)
        if snap is not None:
            age = time.monotonic() - snap.read_at
            if age < self.ttl:
                if age >= self.ttl * REFRESH_AHEAD and job_id not in self._loading:
                    self._load(job_id)  # replaced before it runs out; this caller needn't wait
                return snap
            del self._jobs[job_id]
        task = self._loading.get(job_id) or self._load(job_id)
        return await asyncio.shield(task)  # a caller that goes away leaves the read running

    def _load(self, job_id: str) -> asyncio.Task[Snapshot | None]:
        task = asyncio.create_task(self._read_database(job_id))
        self._loading[job_id] = task
        task.add_done_callback(lambda t: self._loaded(job_id, t))
        return task

    async def _read_database(self, job_id: str) -> Snapshot | None:
        seq, started = self._seq, time.monotonic()
        job = await self._fetch(job_id)
        if job is None:
            return None
        snap = Snapshot(job.user_id, job_public(job), started)
        if self.enabled and seq >= self._floor and self._touched.get(job_id, -1) <= seq:
            self._jobs[job_id] = snap
            self._jobs.move_to_end(job_id)
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        return snap

    def _loaded(self, job_id: str, task: asyncio.Task[Snapshot | None]) -> None:
        if self._loading.get(job_id) is task:
            del self._loading[job_id]
        if not task.cancelled():
            task.exception()  # retrieved: the callers awaiting it got it

    def apply(self, event: Event) -> None:
        """Bring the job up to date with ``event`` (published after its commit)."""
        self._seq += 1
        job_id = event.job_id
        self._touched[job_id] = self._seq
        self._touched.move_to_end(job_id)
        while len(self._touched) > MAX_TOUCHED:
            _, seq = self._touched.popitem(last=False)
            self._floor = max(self._floor, seq)
        self._loading.pop(job_id, None)  # callers from now on need a read that follows this
        snap = self._jobs.pop(job_id, None)
        if snap is None or event.type != EventType.PROGRESS:
            return
        if snap.public.status != event.status:  # a StrEnum: compares with the string
            return  # out of order (a late progress after a status change): re-read
        progress = progress_public(
            event.downloaded_bytes, event.total_bytes, event.speed, event.eta
        )
        public = snap.public.model_copy(update={"progress": progress})
        self._jobs[job_id] = Snapshot(snap.owner, public, snap.read_at)

    def forget_all(self) -> None:
        """Drop every snapshot (after a write that publishes no event, e.g. a cancel flag)."""
        self.reset(live=self.live)

    def reset(self, *, live: bool) -> None:
        """Forget everything; reads in flight may not become snapshots."""
        self._seq += 1
        self._floor = self._seq
        self._jobs.clear()
        self._loading.clear()
        self._touched.clear()
        self.live = live

    async def follow(self, bus: EventBus) -> None:
        """Keep the view current from ``bus`` until cancelled (re-subscribing on errors)."""
        if self.ttl <= 0:
            return
        try:
            if bus.redis_url is None:
                await self._follow_local(bus)
            while True:
                try:
                    await self._follow_redis(bus)
                except Exception:
                    log.exception("job view lost its event stream; reading the database")
                self.reset(live=False)
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
        finally:
            self.reset(live=False)

    async def _follow_local(self, bus: EventBus) -> None:
        """In-process events: applied in the order they were published, each before any
        request that arrives after its publication is handled (the publishing thread
        queues the update on this loop at once, ahead of any later socket read)."""
        loop = asyncio.get_running_loop()

        def deliver(event: Event, _user_id: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.apply, event)

        stop = bus.listen(deliver)
        try:
            self.reset(live=True)
            await asyncio.Future()  # until cancelled
        finally:
            stop()

    async def _follow_redis(self, bus: EventBus) -> None:
        async with bus.subscribe() as events:  # subscribed before going live
            self.reset(live=True)
            async for event, _user_id in events:
                self.apply(event)
