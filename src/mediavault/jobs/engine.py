"""The job engine's shared pieces for one process: database, store, queue, bus, limits.

``Engine.open(settings)`` migrates the database and wires everything; the worker, the
reaper and ``services.JobService`` all work through one ``Engine``. Sending a job to the
queue is ``Engine.send``: mark ``dispatched_at`` (conditionally: only queued jobs), then
put the id on Huey. The order matters: a job is committed before its id is sent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from mediavault.config import Settings
from mediavault.errors import CancelledError_
from mediavault.jobs.db import Database
from mediavault.jobs.dispatch import Dispatcher, dispatcher_for
from mediavault.jobs.events import EventBus, event_bus_for
from mediavault.jobs.limits import HostLimiter
from mediavault.jobs.store import JobStore
from mediavault.jobs.tables import Job, utcnow
from mediavault.models import JobStatus

if TYPE_CHECKING:
    from mediavault.storage.base import StorageBackend

__all__ = ["Claim", "Engine"]

log = logging.getLogger("mediavault.jobs")

HOST_RETRY_DELAY = (0.5, 1.5)  # a job whose host is full is sent again this much later
FIRST_SEND = 32  # ids in the first chunk of a send; each next chunk 4x, up to SEND_CHUNK
SEND_CHUNK = 1024


@dataclass(frozen=True)
class Claim:
    """The outcome of ``Engine.claim``: the running job and its host slot, if any."""

    job: Job | None = None
    slot: int | None = None
    host_busy: bool = False  # every slot of the job's host was taken: deferred


class _HostBusyError(Exception):
    """Rolls the claim back when no host slot is free."""


class Engine:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        dispatcher: Dispatcher | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.events = events or event_bus_for(settings)
        self.dispatcher = dispatcher or dispatcher_for(settings)
        self.store = JobStore(
            database.sessionmaker,
            settings=settings,
            events=self.events,
            write_sessionmaker=database.write_sessionmaker,
        )
        self.limits = HostLimiter(self.store, settings)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Engine:
        return cls(settings, Database(settings, migrate=migrate))

    @functools.cached_property
    def storage(self) -> StorageBackend:
        """The configured storage backend, opened on first use."""
        from mediavault.storage import open_storage

        return open_storage(self.settings.effective_storage_url, self.settings)

    def close(self) -> None:
        self.database.dispose()

    # claiming --------------------------------------------------------------------------

    async def claim(
        self,
        job_id: str,
        worker_id: str,
        host_limited: Callable[[str], bool],
        *,
        plain_kinds: Collection[str] = (),
    ) -> Claim:
        """Claim a queued, due job and, when ``host_limited(kind)``, a slot of its host.

        One transaction: the conditional claim and the slot insert commit together, so a
        job never runs without its slot and a busy host costs no attempt (the claim is
        rolled back and the job deferred for a moment). ``Claim.job`` is None when the
        job is not runnable now (already taken, not due, cancelled, gone).

        On PostgreSQL a job that needs no slot (no host, or its kind in ``plain_kinds``,
        kinds for which ``host_limited`` is false) is claimed by one autocommit
        statement, without the BEGIN and COMMIT round trips; only when that claims
        nothing does the transaction above run.
        """
        claim = functools.partial(
            self.claim_many, [job_id], worker_id, host_limited, frozenset(plain_kinds)
        )
        return (await self.store.run(claim))[0]

    def take(
        self,
        worker_id: str,
        limit: int,
        timeout: float,
        host_limited: Callable[[str], bool],
        plain_kinds: frozenset[str],
    ) -> list[Claim]:
        """Pop up to ``limit`` job ids off the queue and claim them (blocking: a thread).

        Waits up to ``timeout`` seconds for the first id. Every id popped is claimed
        here, so none waits in memory; an id whose claim fails stays a queued job that
        the reaper sends again.
        """
        job_ids = self.dispatcher.dequeue_many(limit, timeout)
        if not job_ids:
            return []
        return self.claim_many(job_ids, worker_id, host_limited, plain_kinds)

    def claim_many(
        self,
        job_ids: Sequence[str],
        worker_id: str,
        host_limited: Callable[[str], bool],
        plain_kinds: frozenset[str],
    ) -> list[Claim]:
        """``claim`` for each of ``job_ids`` (blocking), then their started events at once.

        On PostgreSQL the jobs that need no host slot are claimed by one statement. Once
        a job is claimed, an error elsewhere must not lose it: a failed claim of another
        job (that job stays queued, and the reaper sends it again) and a failed publish
        of the started events are logged, and the claims are returned.
        """
        claimed: dict[str, Job] = {}
        if self.store.autocommits:
            plain = functools.partial(self.store.claim_plain_in, job_ids, worker_id, plain_kinds)
            claimed = {job.id: job for job in self.store.write_single(plain)}
        claims = [
            Claim(claimed[job_id])
            if job_id in claimed
            else self._claim_one(job_id, worker_id, host_limited)
            for job_id in job_ids
        ]
        try:
            self.store.emit_many([claim.job for claim in claims if claim.job is not None])
        except Exception:
            log.exception("publishing the started events of %d jobs failed", len(claims))
        return claims

    def claim_each(
        self, job_ids: Sequence[str], worker_id: str, host_limited: Callable[[str], bool]
    ) -> list[Claim]:
        """``claim_many`` without the one-statement claim: each job (and its host slot)
        in its own transaction, then their started events at once (blocking)."""
        claims = [self._claim_one(job_id, worker_id, host_limited) for job_id in job_ids]
        try:
            self.store.emit_many([claim.job for claim in claims if claim.job is not None])
        except Exception:
            log.exception("publishing the started events of %d jobs failed", len(claims))
        return claims

    def _claim_one(
        self, job_id: str, worker_id: str, host_limited: Callable[[str], bool]
    ) -> Claim:
        """Claim (and slot) in one transaction; a full host defers the job instead."""
        claim = functools.partial(self._claim_in, job_id, worker_id, host_limited)
        try:
            try:
                job, slot = self.store.write_core(claim)
            except _HostBusyError:
                self._defer(job_id, random.uniform(*HOST_RETRY_DELAY))
                return Claim(host_busy=True)
        except Exception:
            log.exception("job %s: claim failed; left queued for the reaper", job_id)
            return Claim()
        return Claim(job, slot)

    def _claim_in(
        self, job_id: str, worker_id: str, host_limited: Callable[[str], bool], conn: Connection
    ) -> tuple[Job | None, int | None]:
        job = self.store.claim_in(job_id, worker_id, conn)
        if job is None or not job.host or not host_limited(job.kind):
            return job, None
        slot = self.limits.acquire_in(conn, job.host, job.id)
        if slot is None:
            raise _HostBusyError(job_id)
        return job, slot

    # sending ---------------------------------------------------------------------------

    async def send(self, jobs: Sequence[Job], *, sent_before: datetime | None = None) -> int:
        """Dispatch queued jobs (ids only); returns how many were sent.

        With ``sent_before``, only jobs never sent or last sent before then (the reaper's
        condition, so concurrent reapers do not both send the same job). Many jobs go in
        chunks, each marked and then enqueued: a small first one (``FIRST_SEND``), so
        workers start while the rest is marked and sent, then 4x larger ones.
        """
        sent, start, size = 0, 0, FIRST_SEND
        while start < len(jobs):  # small first: workers start on it while the rest goes
            chunk = jobs[start : start + size]
            start, size = start + size, min(size * 4, SEND_CHUNK)
            ids = [job.id for job in chunk]
            marked = await self.store.run(self._mark_dispatched, ids, sent_before)
            sendable = [(job.id, job.priority) for job in chunk if job.id in marked]
            if sendable:
                await asyncio.to_thread(self.dispatcher.enqueue_many, sendable)
            sent += len(sendable)
        return sent

    def _mark_dispatched(self, ids: list[str], sent_before: datetime | None) -> set[str]:
        where = [Job.id.in_(ids), Job.status == JobStatus.QUEUED.value]
        if sent_before is not None:
            where.append(Job.dispatched_at.is_(None) | (Job.dispatched_at < sent_before))
        stmt = (
            update(Job)
            .where(*where)
            .values(dispatched_at=utcnow())
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        return set(self.store.write(lambda s: list(s.scalars(stmt))))

    async def wake_host(self, host: str) -> int:
        """A host slot came free: dispatch the next job waiting for that host now."""
        job = await self.store.run(self._next_waiting, host)
        if job is None:
            return 0
        await asyncio.to_thread(self.dispatcher.enqueue, job.id, job.priority)
        return 1

    def _next_waiting(self, host: str) -> Job | None:
        now = utcnow()
        pick = (
            select(Job.id)
            .where(
                Job.host == host,
                Job.status == JobStatus.QUEUED.value,
                Job.stage == "host_wait",
                Job.dispatched_at.is_(None),
            )
            .order_by(Job.priority.desc(), Job.next_run_at)
            .limit(1)
        )

        def run(session: Session) -> Job | None:
            job_id = session.scalars(pick).first()
            if job_id is None:
                return None
            stmt = (
                update(Job)
                .where(Job.id == job_id, Job.dispatched_at.is_(None))
                .values(dispatched_at=now, next_run_at=now, stage=None)
                .returning(Job)
                .execution_options(synchronize_session=False)
            )
            return session.execute(stmt).scalar_one_or_none()

        return self.store.write(run)

    def _defer(self, job_id: str, delay: float) -> None:
        stmt = (
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
            .values(
                next_run_at=utcnow() + timedelta(seconds=delay),
                dispatched_at=None,
                stage="host_wait",
            )
            .execution_options(synchronize_session=False)
        )
        self.store.write(lambda s: s.execute(stmt))

    # expansion -------------------------------------------------------------------------

    async def add_children(
        self,
        parent: Job,
        token: str,
        specs: Sequence[dict[str, Any]],
        cursor: dict[str, Any] | None,
    ) -> list[Job]:
        """Insert a page of children and move the parent's cursor, lease-checked, atomically."""
        rows = [self.store.child_row(parent, spec) for spec in specs]

        def run(session: Session) -> list[Job]:
            bump = (
                update(Job)
                .where(
                    Job.id == parent.id,
                    Job.lease_token == token,
                    Job.status == JobStatus.RUNNING.value,
                    Job.cancel_requested.is_(False),
                )
                .values(
                    expand_cursor=cursor,
                    items_total=func.coalesce(Job.items_total, 0) + len(rows),
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if session.execute(bump).rowcount != 1:  # type: ignore[attr-defined]
                raise CancelledError_(f"job {parent.id} was cancelled or lost its lease")
            session.add_all(rows)
            return rows

        return await self.store.run(self.store.write, run)
