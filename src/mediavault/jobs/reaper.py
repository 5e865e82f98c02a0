"""The reaper: periodic, idempotent repairs that make "no job is ever lost" true.

Each tick (every ``settings.reaper_seconds``, in every worker and API process):

1. running jobs whose lease expired (their worker died or hung) go back to queued with
   backoff, attempt counted; past ``max_attempts`` they fail with ``worker_lost``;
2. expired host slots are freed;
3. queued jobs that are due and were never sent, or were sent so long ago that the
   message must be lost, are (re-)sent to the queue;
4. expanded parents whose children have all ended are finished;
5. retention (when configured) deletes expired files, at most once a minute.

Every change is a conditional UPDATE on what the tick read, so several reapers at once
do each repair exactly once; re-sending a job twice is harmless (only one claim wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from mediavault.jobs.store import FINAL_STATUSES, backoff_delay
from mediavault.jobs.tables import Job, utcnow
from mediavault.models import JobStatus

if TYPE_CHECKING:
    from mediavault.jobs.engine import Engine

__all__ = ["ReapReport", "Reaper"]

log = logging.getLogger("mediavault.reaper")

BATCH = 500
RETENTION_EVERY = 60.0


@dataclass
class ReapReport:
    requeued: int = 0
    failed: int = 0
    sent: int = 0
    parents_finished: int = 0
    slots_freed: int = 0
    files_deleted: int = 0


class Reaper:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.settings = engine.settings
        self._last_retention = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database may be briefly unavailable: try next tick
                log.exception("reaper tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.reaper_seconds)

    async def tick(self) -> ReapReport:
        report = ReapReport()
        await self._reap_stale(report)
        report.slots_freed = await self.engine.limits.purge_expired()
        await self._send_due(report)
        await self._finish_parents(report)
        if self.settings.retention and time.monotonic() - self._last_retention > RETENTION_EVERY:
            self._last_retention = time.monotonic()
            report.files_deleted = await self.retention()
        return report

    async def retention(self) -> int:
        from mediavault.jobs.retention import sweep

        return await sweep(self.engine)

    async def _reap_stale(self, report: ReapReport) -> None:
        stmt = (
            select(Job)
            .where(
                Job.status == JobStatus.RUNNING.value,
                Job.lease_token.is_not(None),
                Job.lease_expires_at < utcnow(),
            )
            .limit(BATCH)
        )
        stale = await self.store.run(self.store.read, lambda s: list(s.scalars(stmt)))
        for job in stale:
            where = [Job.lease_token == job.lease_token, Job.status == JobStatus.RUNNING.value]
            lost = {
                "lease_token": None,
                "lease_expires_at": None,
                "worker_id": None,
                "speed": None,
                "eta": None,
                "error_code": "worker_lost",
                "error_message": f"worker {job.worker_id} stopped renewing its lease",
            }
            values: dict[str, Any]
            if job.attempts >= job.max_attempts:
                values = lost | {"status": JobStatus.FAILED.value, "finished_at": utcnow()}
            else:
                delay = backoff_delay(self.settings, job.attempts)
                values = lost | {
                    "status": JobStatus.QUEUED.value,
                    "next_run_at": utcnow() + timedelta(seconds=delay),
                    "dispatched_at": None,
                }
            changed = await self.store.run(self.store.transition, job.id, where, values)
            if changed is None:
                continue  # another reaper (or the worker itself) got there first
            await self.store.run(self.store.emit, changed)
            if changed.status == JobStatus.FAILED.value:
                report.failed += 1
                if changed.parent_id:
                    await self.store.refresh_parent(changed.parent_id)
            else:
                report.requeued += 1
            log.warning("job %s: lease expired -> %s", job.id, changed.status)

    async def _send_due(self, report: ReapReport) -> None:
        now = utcnow()
        pending = await asyncio.to_thread(self.engine.dispatcher.pending)
        # With nothing waiting in the queue, a job sent a lease ago but never claimed was
        # lost (e.g. its worker died right after taking it); otherwise be patient.
        patience = self.settings.lease_seconds * (1 if pending == 0 else 20)
        cutoff = now - timedelta(seconds=patience)
        stmt = (
            select(Job)
            .where(
                Job.status == JobStatus.QUEUED.value,
                Job.next_run_at <= now,
                Job.cancel_requested.is_(False),
                Job.dispatched_at.is_(None) | (Job.dispatched_at < cutoff),
            )
            .order_by(Job.priority.desc(), Job.next_run_at)
            .limit(BATCH)
        )
        due = await self.store.run(self.store.read, lambda s: list(s.scalars(stmt)))
        report.sent = await self.engine.send(due, sent_before=cutoff)

    async def _finish_parents(self, report: ReapReport) -> None:
        child = aliased(Job)
        stmt = (
            select(Job.id)
            .where(
                Job.status == JobStatus.RUNNING.value,
                Job.stage == "waiting",
                Job.lease_token.is_(None),
                ~exists().where(child.parent_id == Job.id, child.status.not_in(FINAL_STATUSES)),
            )
            .limit(BATCH)
        )
        ids = await self.store.run(self.store.read, lambda s: list(s.scalars(stmt)))
        for parent_id in ids:
            job = await self.store.refresh_parent(parent_id)
            if job is not None and job.status in FINAL_STATUSES:
                report.parents_finished += 1
