"""The job store's plumbing: its thread pool, sessions and connections, event publishing,
and the conditional (lease-checked) UPDATE every state change goes through.

``store.JobStore`` builds the job operations on this; the two are apart only to keep each
module readable.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Connection, Engine, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ClauseElement

from mediavault.config import Settings
from mediavault.errors import LeaseLostError
from mediavault.jobs.events import EventBus, event_for
from mediavault.jobs.hotpath import job_from_row, leased_statement
from mediavault.jobs.tables import Job, utcnow
from mediavault.models import EventType, JobStatus

__all__ = [
    "FINAL_STATUSES",
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
_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mediavault-db")

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


class StoreBase:
    """Sessions, connections and lease-checked transitions of ``jobs`` rows."""
    """CRUD and lease-checked transitions of ``jobs`` rows."""

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

    # plumbing --------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking database work on the store's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_EXECUTOR, functools.partial(fn, *args))

    def read(self, fn: Callable[[Session], T]) -> T:
        with self._sm() as session:
            return fn(session)

    def write(self, fn: Callable[[Session], T]) -> T:
        with self._wsm() as session, session.begin():
            return fn(session)

    def write_core(self, fn: Callable[[Connection], T]) -> T:
        """``write`` on a plain connection (Core statements only; cheaper than a session)."""
        with self._write_bind.begin() as conn:
            return fn(conn)

    def write_single(self, fn: Callable[[Connection], T]) -> T:
        """``write_core`` for work whose statements need not commit together."""
        if self._single_bind is None:
            return self.write_core(fn)
        with self._single_bind.connect() as conn:
            return fn(conn)

    def emit(self, job: Job | None, type_: EventType | None = None) -> None:
        """Publish ``job``'s event (type from its status unless given); any thread."""
        if job is None or self.events is None:
            return
        type_ = type_ or _EVENT_FOR_STATUS[JobStatus(job.status)]
        self.events.publish_sync(event_for(job, type_), user_id=job.user_id)

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
