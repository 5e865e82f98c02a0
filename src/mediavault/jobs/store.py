"""The job store: every job state change is one conditional SQL statement.

``JobStore`` is async (blocking SQLAlchemy work runs on a small dedicated thread pool).
Writes by a running job carry its lease token; a write whose token no longer matches
raises ``LeaseLostError`` (the reaper or a cancel took the job away), so a worker that
lost its lease can never overwrite what the job's new owner does. Every status change
is published on the ``EventBus`` after its transaction commits.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediavault.errors import MediavaultError
from mediavault.jobs._storebase import (
    FINAL_STATUSES,
    JobFilters,
    JobPage,
    StoreBase,
    backoff_delay,
    host_of,
    scalars,
)
from mediavault.jobs.hotpath import (
    CLAIM,
    HEARTBEAT,
    RENEW_SLOTS,
    batch_size,
    claim_plain,
    job_from_row,
)
from mediavault.jobs.tables import Job, JobLog, new_id, utcnow
from mediavault.models import EventType, JobKind, JobStatus, Progress

__all__ = ["FINAL_STATUSES", "JobFilters", "JobPage", "JobStore", "backoff_delay"]

class JobStore(StoreBase):
    """CRUD and lease-checked transitions of ``jobs`` rows."""

    # create and read -------------------------------------------------------------------

    async def create(
        self,
        kind: JobKind | str,
        *,
        url: str | None = None,
        options: dict[str, Any] | None = None,
        user_id: str | None = None,
        priority: int = 0,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
        subscription_id: str | None = None,
        max_attempts: int | None = None,
        payload: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> Job:
        """Insert a queued job (or return the existing one for a repeated idempotency key).

        The unique (user, key) constraint settles races between users' requests; NULL
        users (internal callers) rely on the lookup alone.
        """
        if idempotency_key is not None:
            existing = await self.find_idempotent(user_id, idempotency_key)
            if existing is not None:
                return existing
        row = Job(
            id=new_id(),
            kind=str(kind),
            url=url,
            host=host_of(url),
            options=options or {},
            user_id=user_id,
            priority=priority,
            parent_id=parent_id,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            subscription_id=subscription_id,
            max_attempts=max_attempts or self.settings.job_max_attempts,
            payload=payload,
            title=title,
            status=JobStatus.QUEUED.value,
            next_run_at=utcnow(),
        )

        def insert(session: Session) -> Job:
            session.add(row)
            return row

        try:
            job: Job = await self.run(self.write, insert)
        except IntegrityError:
            existing = await self.find_idempotent(user_id, idempotency_key)
            if existing is None:
                raise
            return existing
        await self.run(self.emit, job)
        return job

    async def create_children(
        self, parent: Job, specs: Sequence[dict[str, Any]]
    ) -> builtins.list[Job]:
        """Insert child jobs of ``parent`` in one transaction (no lease check: see expand)."""
        rows = [self.child_row(parent, spec) for spec in specs]
        await self.run(self.write, lambda s: s.add_all(rows))
        return rows

    def child_row(self, parent: Job, spec: dict[str, Any]) -> Job:
        url = spec.get("url")
        return Job(
            id=new_id(),
            kind=str(spec.get("kind", JobKind.DOWNLOAD)),
            url=url,
            host=host_of(url),
            options=spec.get("options", parent.options),
            user_id=parent.user_id,
            priority=parent.priority,
            parent_id=parent.id,
            subscription_id=parent.subscription_id,
            max_attempts=parent.max_attempts,
            payload=spec.get("payload"),
            title=spec.get("title"),
            status=JobStatus.QUEUED.value,
            next_run_at=utcnow(),
        )

    async def find_idempotent(self, user_id: str | None, key: str | None) -> Job | None:
        if key is None:
            return None
        owner = Job.user_id.is_(None) if user_id is None else Job.user_id == user_id
        stmt = select(Job).where(Job.idempotency_key == key, owner)
        return await self.run(self.read, lambda s: s.scalars(stmt).first())

    async def get(self, job_id: str) -> Job | None:
        return await self.run(self.read, lambda s: s.get(Job, job_id))

    async def list(
        self, filters: JobFilters | None = None, *, cursor: str | None = None, limit: int = 50
    ) -> JobPage:
        """Newest first; ``cursor`` is the opaque ``next_cursor`` of the previous page."""
        f = filters or JobFilters()
        stmt = select(Job)
        for column, value in (
            (Job.user_id, f.user_id),
            (Job.status, f.status),
            (Job.kind, f.kind),
            (Job.parent_id, f.parent_id),
            (Job.subscription_id, f.subscription_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if f.top_level:
            stmt = stmt.where(Job.parent_id.is_(None))
        if cursor:
            created, _, last_id = cursor.partition("_")
            at = datetime.fromisoformat(created)
            stmt = stmt.where(
                (Job.created_at < at) | (and_(Job.created_at == at, Job.id < last_id))
            )
        stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
        rows = list(await self.run(self.read, lambda s: list(s.scalars(stmt))))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = f"{rows[-1].created_at.isoformat()}_{rows[-1].id}" if more else None
        return JobPage(rows, next_cursor)

    async def children(
        self, parent_id: str, *, cursor: str | None = None, limit: int = 100
    ) -> JobPage:
        return await self.list(JobFilters(parent_id=parent_id), cursor=cursor, limit=limit)

    async def counts_by_status(self, parent_id: str | None = None) -> dict[str, int]:
        """Jobs per status (children of ``parent_id`` when given)."""
        stmt = select(Job.status, func.count()).group_by(Job.status)
        if parent_id is not None:
            stmt = stmt.where(Job.parent_id == parent_id)
        rows = await self.run(self.read, lambda s: s.execute(stmt).all())
        return {status: int(n) for status, n in rows}

    # logs ------------------------------------------------------------------------------

    async def log(self, job_id: str, level: str, message: str) -> None:
        entry = JobLog(job_id=job_id, level=level, message=message[:10_000], ts=utcnow())
        await self.run(self.write, lambda s: s.add(entry))

    async def logs(
        self, job_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> builtins.list[JobLog]:
        stmt = (
            select(JobLog)
            .where(JobLog.job_id == job_id, JobLog.id > after_id)
            .order_by(JobLog.id)
            .limit(limit)
        )
        return await self.run(self.read, lambda s: list(s.scalars(stmt)))

    # the lease -------------------------------------------------------------------------

    async def claim(self, job_id: str, worker_id: str) -> str | None:
        """Atomically take a queued, due, uncancelled job; the lease token or None."""
        job = await self.claim_job(job_id, worker_id)
        return job.lease_token if job is not None else None

    async def claim_job(self, job_id: str, worker_id: str) -> Job | None:
        """``claim``, returning the claimed job (its ``lease_token`` is the token)."""
        return await self.run(self._claim_and_emit, job_id, worker_id)

    def _claim_and_emit(self, job_id: str, worker_id: str) -> Job | None:
        job = self.write_core(functools.partial(self.claim_in, job_id, worker_id))
        self.emit(job)
        return job

    def claim_in(self, job_id: str, worker_id: str, conn: Connection) -> Job | None:
        """The claim as one statement on ``conn`` (the caller commits and emits)."""
        params = self._claim_params(worker_id) | {"b_id": job_id, "b_token": new_id()}
        return job_from_row(conn.execute(CLAIM, params).one_or_none())

    def claim_plain_in(
        self, job_ids: Sequence[str], worker_id: str, plain_kinds: frozenset[str], conn: Connection
    ) -> builtins.list[Job]:
        """Claim those of ``job_ids`` that need no host slot (no host, or a kind in
        ``plain_kinds``) with one statement, each with its own lease token."""
        if not job_ids:
            return []
        params = self._claim_params(worker_id)
        size = batch_size(len(job_ids))
        for i in range(size):
            if i < len(job_ids):
                job_id, token = job_ids[i], new_id()
            params[f"b_id{i}"], params[f"b_token{i}"] = job_id, token
        rows = conn.execute(claim_plain(size, plain_kinds), params).all()
        return [job for job in map(job_from_row, rows) if job is not None]

    def _claim_params(self, worker_id: str) -> dict[str, Any]:
        now = utcnow()
        return {
            "b_now": now,
            "b_expires": now + timedelta(seconds=self.settings.lease_seconds),
            "b_worker": worker_id,
        }

    async def heartbeat(self, job_id: str, token: str) -> bool:
        """Renew the lease; True when a cancel was requested. Raises LeaseLostError."""
        now = utcnow()
        values = {
            "heartbeat_at": now,
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds),
        }
        job = await self.run(functools.partial(self._leased, job_id, token, values, emit=False))
        return bool(job.cancel_requested)

    async def heartbeat_many(
        self, leases: Mapping[str, str], slot_jobs: Sequence[str] = ()
    ) -> dict[str, bool]:
        """Renew many leases (``{job_id: token}``) and host slots in one transaction.

        Returns ``{job_id: cancel_requested}`` for the leases still held; a job missing
        from the answer has lost its lease. ``slot_jobs`` are the jobs whose host slot
        leases are renewed alongside (one UPDATE for all of them).
        """
        if not leases:
            return {}
        now = utcnow()
        params = {
            "b_now": now,
            "b_expires": now + timedelta(seconds=self.settings.lease_seconds),
            "b_tokens": list(leases.values()),
            "b_jobs": list(slot_jobs),
        }

        def run(conn: Connection) -> list[Row[Any]]:
            rows = list(conn.execute(HEARTBEAT, params).all())
            if slot_jobs:
                conn.execute(RENEW_SLOTS, params)
            return rows

        rows = await self.run(self.write_single, run)
        return {r.id: bool(r.cancel_requested) for r in rows if leases.get(r.id) == r.lease_token}

    async def report_progress(self, job_id: str, token: str, progress: Progress) -> Job:
        """Write a running job's progress and publish ``job.progress``.

        Reports for one job are written and published in the order they were made (the
        worker's periodic flush and the handler's final flush may overlap), so the last
        report made is the one the job keeps.
        """
        lock, users = self._progress_order.get(job_id) or (asyncio.Lock(), 0)
        self._progress_order[job_id] = (lock, users + 1)
        try:
            async with lock:
                return await self._write_progress(job_id, token, progress)
        finally:
            lock, users = self._progress_order[job_id]
            if users == 1:
                del self._progress_order[job_id]
            else:
                self._progress_order[job_id] = (lock, users - 1)

    async def _write_progress(self, job_id: str, token: str, progress: Progress) -> Job:
        values: dict[str, Any] = {
            "downloaded_bytes": progress.downloaded_bytes,
            "total_bytes": progress.total_bytes,
            "speed": progress.speed,
            "eta": progress.eta,
            "stage": progress.status,
        }
        if progress.title:
            values["title"] = progress.title
        job = await self.run(functools.partial(self._leased, job_id, token, values, emit=False))
        await self.run(self.emit, job, EventType.PROGRESS)
        return job

    async def update_leased(self, job_id: str, token: str, **values: Any) -> Job:
        """Set columns of a running job (title, platform, items_total, expand_cursor…)."""
        return await self.run(functools.partial(self._leased, job_id, token, values, emit=False))

    async def complete(
        self, job_id: str, token: str, result: dict[str, Any], *, skipped: bool = False
    ) -> Job:
        if not skipped:
            return await self.complete_leased(job_id, token, result)
        values = self._final_values(JobStatus.SKIPPED) | {
            "result": result,
            "error_code": result.get("reason"),
            "error_message": result.get("message"),
        }
        return await self.run(self._leased, job_id, token, values)

    async def fail(self, job_id: str, token: str, error: MediavaultError) -> Job:
        values = self._final_values(JobStatus.FAILED) | {
            "error_code": error.code,
            "error_message": error.message,
        }
        return await self.run(self._leased, job_id, token, values)

    async def finish_cancelled(self, job_id: str, token: str) -> Job:
        return await self.run(self._leased, job_id, token, self._final_values(JobStatus.CANCELLED))

    async def retry_later(
        self, job_id: str, token: str, error: MediavaultError, delay: float
    ) -> Job:
        """Back to queued, due after ``delay`` seconds, keeping the error for the record."""
        values = {
            "status": JobStatus.QUEUED.value,
            "next_run_at": utcnow() + timedelta(seconds=delay),
            "dispatched_at": None,
            "lease_token": None,
            "lease_expires_at": None,
            "worker_id": None,
            "speed": None,
            "eta": None,
            "error_code": error.code,
            "error_message": error.message,
        }
        return await self.run(self._leased, job_id, token, values)

    async def release(self, job_id: str, token: str, *, delay: float = 0.0) -> Job:
        """Give a running job back (worker shutdown): queued again, the attempt not counted."""
        values = {
            "status": JobStatus.QUEUED.value,
            "next_run_at": utcnow() + timedelta(seconds=delay),
            "dispatched_at": None,
            "lease_token": None,
            "lease_expires_at": None,
            "worker_id": None,
            "attempts": Job.attempts - 1,
        }
        return await self.run(self._leased, job_id, token, values)

    async def defer(self, job_id: str, delay: float) -> bool:
        """Push a queued job back by ``delay`` seconds (its host is busy); not an attempt."""
        values = {"next_run_at": utcnow() + timedelta(seconds=delay), "dispatched_at": None}
        where = [Job.status == JobStatus.QUEUED.value]
        return await self.run(self.transition, job_id, where, values) is not None

    async def wait_for_children(self, job_id: str, token: str, items_total: int) -> Job:
        """An expanded job keeps status running without a lease until its children end."""
        values = {
            "stage": "waiting",
            "items_total": items_total,
            "lease_token": None,
            "lease_expires_at": None,
            "worker_id": None,
        }
        return await self.run(functools.partial(self._leased, job_id, token, values, emit=False))

    @staticmethod
    def _final_values(status: JobStatus) -> dict[str, Any]:
        return {
            "status": status.value,
            "finished_at": utcnow(),
            "lease_token": None,
            "lease_expires_at": None,
            "speed": None,
            "eta": None,
            "stage": None,
        }

    # cancel ----------------------------------------------------------------------------

    async def request_cancel(self, job_id: str) -> Job | None:
        """Cancel a job and its descendants: queued ones end now, running ones are flagged.

        Returns the job as it is afterwards, None when it does not exist. A job already
        in a final status is left as it is.
        """
        return await self.run(self._cancel_tree, job_id)

    def _cancel_tree(self, job_id: str) -> Job | None:
        final = self._final_values(JobStatus.CANCELLED)
        pending = [job_id]
        while pending:
            current = pending.pop()
            queued = [Job.status == JobStatus.QUEUED.value]
            waiting = [Job.status == JobStatus.RUNNING.value, Job.lease_token.is_(None)]
            running = [Job.status == JobStatus.RUNNING.value]
            values = final | {"cancel_requested": True}
            job = self.transition(current, queued, values) or self.transition(
                current, waiting, values
            )
            if job is not None:
                self.emit(job)
            else:
                self.transition(current, running, {"cancel_requested": True})
            stmt = select(Job.id).where(
                Job.parent_id == current, Job.status.not_in(FINAL_STATUSES)
            )
            pending.extend(self.read(functools.partial(scalars, stmt)))
        return self.read(lambda s: s.get(Job, job_id))

    # parents ---------------------------------------------------------------------------

    async def refresh_parent(self, parent_id: str) -> Job | None:
        """Re-aggregate a parent's counters from its children; end it when all are done."""
        return await self.run(self._refresh_parent, parent_id)

    def _refresh_parent(self, parent_id: str) -> Job | None:
        stmt = (
            select(Job.status, func.count(), func.coalesce(func.sum(Job.downloaded_bytes), 0))
            .where(Job.parent_id == parent_id)
            .group_by(Job.status)
        )
        rows = self.read(lambda s: s.execute(stmt).all())
        by_status = {status: (int(n), int(b)) for status, n, b in rows}
        count = {status: n for status, (n, _) in by_status.items()}
        values: dict[str, Any] = {
            "items_done": count.get(JobStatus.COMPLETED.value, 0),
            "items_failed": count.get(JobStatus.FAILED.value, 0),
            "items_skipped": count.get(JobStatus.SKIPPED.value, 0),
            "downloaded_bytes": sum(b for _, b in by_status.values()),
        }
        open_children = count.get(JobStatus.QUEUED.value, 0) + count.get(
            JobStatus.RUNNING.value, 0
        )
        waiting = [Job.status == JobStatus.RUNNING.value, Job.stage == "waiting"]
        if open_children:
            return self.transition(parent_id, [Job.status.not_in(FINAL_STATUSES)], values)
        total = sum(count.values())
        status = JobStatus.COMPLETED
        if count.get(JobStatus.CANCELLED.value, 0) and not values["items_done"]:
            status = JobStatus.CANCELLED
        elif total and values["items_failed"] == total:
            status = JobStatus.FAILED
            values |= {"error_code": "children_failed", "error_message": "every item failed"}
        values |= self._final_values(status)
        values["result"] = {
            "children": total,
            "completed": values["items_done"],
            "failed": values["items_failed"],
            "skipped": values["items_skipped"],
            "cancelled": count.get(JobStatus.CANCELLED.value, 0),
        }
        job = self.transition(parent_id, waiting, values)
        self.emit(job)
        return job
