"""The job store's plumbing: its thread pool, sessions and connections, event publishing,
and the conditional (lease-checked) UPDATE every state change goes through.

Completions are combined (``Finisher``): those asked for while one is being written go
together in the next statement, each still lease-checked on its own. Every unit of work
takes its connection without a ping and is run once more if that connection turns out
dead (``db.retry_on_disconnect``).

``store.JobStore`` builds the job operations on this; the two are apart only to keep each
module readable.
"""

from __future__ import annotations

import asyncio
import functools
import random
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, Engine, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ClauseElement

from mediavault.config import Settings
from mediavault.errors import LeaseLostError
from mediavault.jobs.db import STORE_THREADS, retry_on_disconnect
from mediavault.jobs.events import EventBus, event_for
from mediavault.jobs.hotpath import batch_size, finish_many, job_from_row, leased_statement
from mediavault.jobs.tables import Job, utcnow
from mediavault.models import EventType, JobStatus

__all__ = [
    "FINAL_STATUSES",
    "Finisher",
    "JobFilters",
    "JobPage",
    "StoreBase",
    "backoff_delay",
    "host_of",
    "scalars",
]

T = TypeVar("T")

FINAL_STATUSES = tuple(s.value for s in JobStatus if s.is_final)
_EVENT_FOR_STATUS = {
    JobStatus.QUEUED: EventType.QUEUED,
    JobStatus.RUNNING: EventType.STARTED,
    JobStatus.COMPLETED: EventType.COMPLETED,
    JobStatus.FAILED: EventType.FAILED,
    JobStatus.CANCELLED: EventType.CANCELLED,
    JobStatus.SKIPPED: EventType.SKIPPED,
}
_EXECUTOR = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="mediavault-db")
FINISH_BATCH = 64  # completions written by one statement at most

def backoff_delay(settings: Settings, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with ±25 % jitter for the ``attempt``-th failure (1-based)."""
    base = settings.retry_base_seconds * float(2 ** max(0, attempt - 1))
    delay = min(settings.retry_max_seconds, base) * random.uniform(0.75, 1.25)
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True, kw_only=True)
class JobFilters:
    user_id: str | None = None
    status: str | None = None
    kind: str | None = None
    parent_id: str | None = None
    subscription_id: str | None = None
    top_level: bool = False  # only jobs without a parent


@dataclass(frozen=True)
class JobPage:
    items: list[Job]
    next_cursor: str | None


def scalars(stmt: Any, session: Session) -> list[Any]:
    return list(session.scalars(stmt))


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host.lower() if host else None


class Finisher(Generic[T]):
    """Completions of one event loop, combined: a completion asked for while a batch is
    being written goes with the next batch (one statement, one commit and one Redis round
    trip of events for all of them); a completion alone is written at once.

    ``write`` writes a batch and publishes its events, and returns what it ended by job
    id (the store: ``complete_rows`` on its threads; a worker on PostgreSQL + Redis:
    ``HotPath.complete`` on its event loop).
    """

    def __init__(
        self, write: Callable[[list[tuple[str, str, dict[str, Any]]]], Awaitable[dict[str, T]]]
    ) -> None:
        self._write = write
        self._waiting: list[tuple[str, str, dict[str, Any], asyncio.Future[T]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._held = 0

    async def complete(self, job_id: str, token: str, result: dict[str, Any]) -> T:
        return await self.submit(job_id, token, result)

    def submit(self, job_id: str, token: str, result: dict[str, Any]) -> asyncio.Future[T]:
        """Queue a completion now; the future is its outcome (the ended job or the error)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._waiting.append((job_id, token, result, done))
        # started after what is already due to run: a take woken by the slot this
        # completion frees holds the finisher first, and writes it with its claim
        loop.call_soon(self._start)
        return done

    def hold(self) -> None:
        """Write nothing until ``release``: someone is about to ``take`` the waiting ones
        and write them with a statement of its own (the worker's take)."""
        self._held += 1

    def release(self) -> None:
        self._held -= 1
        self._start()

    def take(self) -> list[tuple[str, str, dict[str, Any], asyncio.Future[T]]]:
        """The completions waiting (not being written); settle them with ``settle``."""
        batch = self._waiting[:FINISH_BATCH]
        del self._waiting[:FINISH_BATCH]
        return batch

    def _start(self) -> None:
        if self._writer is None and not self._held and self._waiting:
            self._writer = asyncio.create_task(self._write_all())

    async def _write_all(self) -> None:
        try:
            while self._waiting and not self._held:
                batch = self.take()
                items = [(job_id, token, result) for job_id, token, result, _ in batch]
                ended: dict[str, T] | Exception
                try:
                    ended = await self._write(items)
                except Exception as exc:  # each waiter sees the error of its write
                    ended = exc
                self.settle(batch, ended)
        finally:
            self._writer = None
            self._start()  # held meanwhile, or asked for after the loop ended

    @staticmethod
    def settle(
        batch: list[tuple[str, str, dict[str, Any], asyncio.Future[T]]],
        ended: dict[str, T] | BaseException,
    ) -> None:
        """Give each waiter of ``batch`` its outcome: the job ``ended`` holds for it, else
        ``LeaseLostError`` (its lease did not hold), or the error of the write."""
        for job_id, _token, _result, done in batch:
            if done.done():  # the waiter was cancelled
                continue
            if isinstance(ended, BaseException):
                done.set_exception(ended)
            elif job_id in ended:
                done.set_result(ended[job_id])
            else:
                lost = LeaseLostError(f"job {job_id} is no longer leased by this worker")
                done.set_exception(lost)


class StoreBase:
    """Sessions, connections and lease-checked transitions of ``jobs`` rows."""

    def __init__(
        self,
        sessionmaker: sessionmaker[Session],
        *,
        settings: Settings,
        events: EventBus | None = None,
        write_sessionmaker: sessionmaker[Session] | None = None,
    ) -> None:
        self._sm = sessionmaker
        self._wsm = write_sessionmaker or sessionmaker
        self._write_bind: Engine = self._wsm.kw["bind"]
        # PostgreSQL runs single-statement writes in autocommit (no BEGIN/COMMIT round
        # trips); SQLite keeps its BEGIN IMMEDIATE transaction.
        self._single_bind: Engine | None = None
        if self._write_bind.dialect.name == "postgresql":
            self._single_bind = self._write_bind.execution_options(isolation_level="AUTOCOMMIT")
        self.settings = settings
        self.events = events
        self._progress_order: dict[str, tuple[asyncio.Lock, int]] = {}
        self._finishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Finisher[Job]] = (
            weakref.WeakKeyDictionary()
        )

    # plumbing --------------------------------------------------------------------------

    @property
    def autocommits(self) -> bool:
        """``write_single`` runs without BEGIN/COMMIT (PostgreSQL)."""
        return self._single_bind is not None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking database work on the store's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_EXECUTOR, functools.partial(fn, *args))

    # Each unit of work below takes its connection without a ping and runs once more
    # if that connection turns out dead (``retry_on_disconnect``).

    def read(self, fn: Callable[[Session], T]) -> T:
        def unit() -> T:
            with self._sm() as session:
                return fn(session)

        return retry_on_disconnect(unit)

    def write(self, fn: Callable[[Session], T]) -> T:
        def unit() -> T:
            with self._wsm() as session, session.begin():
                return fn(session)

        return retry_on_disconnect(unit)

    def write_core(self, fn: Callable[[Connection], T]) -> T:
        """``write`` on a plain connection (Core statements only; cheaper than a session)."""

        def unit() -> T:
            with self._write_bind.begin() as conn:
                return fn(conn)

        return retry_on_disconnect(unit)

    def write_single(self, fn: Callable[[Connection], T]) -> T:
        """``write_core`` for work whose statements need not commit together."""
        bind = self._single_bind
        if bind is None:
            return self.write_core(fn)

        def unit() -> T:
            with bind.connect() as conn:
                return fn(conn)

        return retry_on_disconnect(unit)

    def emit(self, job: Job | None, type_: EventType | None = None) -> None:
        """Publish ``job``'s event (type from its status unless given); any thread."""
        if job is None or self.events is None:
            return
        type_ = type_ or _EVENT_FOR_STATUS[JobStatus(job.status)]
        self.events.publish_sync(event_for(job, type_), user_id=job.user_id)

    def emit_many(self, jobs: Sequence[Job]) -> None:
        """``emit`` for several jobs (types from their statuses), in one Redis round trip."""
        if not jobs or self.events is None:
            return
        types = [_EVENT_FOR_STATUS[JobStatus(job.status)] for job in jobs]
        events = [(event_for(job, t), job.user_id) for job, t in zip(jobs, types, strict=True)]
        self.events.publish_many_sync(events)

    async def complete_leased(self, job_id: str, token: str, result: dict[str, Any]) -> Job:
        """Mark a leased job completed with ``result`` and publish ``job.completed``.

        Completions made at the same time (a worker finishing several short jobs) are
        written together; each is lease-checked on its own (``LeaseLostError``).
        """
        loop = asyncio.get_running_loop()
        finisher = self._finishers.get(loop)
        if finisher is None:
            write = functools.partial(self.run, self.complete_rows)
            finisher = self._finishers[loop] = Finisher(write)
        return await finisher.complete(job_id, token, result)

    def complete_rows(self, items: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Job]:
        """Complete ``(job_id, token, result)`` items in one statement, then publish their
        events; returns the jobs completed (those whose lease still held), by id."""
        params: dict[str, Any] = {"v_status": JobStatus.COMPLETED.value, "v_now": utcnow()}
        size = batch_size(len(items))
        for i in range(size):
            job_id, token, result = items[min(i, len(items) - 1)]
            params |= {f"b_id{i}": job_id, f"b_token{i}": token, f"b_result{i}": result}
        stmt = finish_many(size)
        rows = self.write_single(lambda conn: conn.execute(stmt, params).all())
        jobs = [job for job in map(job_from_row, rows) if job is not None]
        self.emit_many(jobs)
        return {job.id: job for job in jobs}

    def transition(
        self, job_id: str, where: Sequence[ColumnElement[bool]], values: dict[str, Any]
    ) -> Job | None:
        stmt = (
            update(Job)
            .where(Job.id == job_id, *where)
            .values(updated_at=utcnow(), **values)
            .returning(Job)
            .execution_options(synchronize_session=False)
        )
        return self.write(lambda s: s.execute(stmt).scalar_one_or_none())

    def _leased(
        self, job_id: str, token: str, values: dict[str, Any], *, emit: bool = True
    ) -> Job:
        job: Job | None
        if any(isinstance(v, ClauseElement) for v in values.values()):
            where = [Job.lease_token == token, Job.status == JobStatus.RUNNING.value]
            job = self.transition(job_id, where, values)
        else:
            values = {"updated_at": utcnow(), **values}
            stmt = leased_statement(tuple(sorted(values)))
            params = {f"v_{k}": v for k, v in values.items()} | {"b_id": job_id, "b_token": token}
            job = job_from_row(self.write_single(lambda c: c.execute(stmt, params).one_or_none()))
        if job is None:
            raise LeaseLostError(f"job {job_id} is no longer leased by this worker")
        if emit:
            self.emit(job)
        return job
