"""Per-host concurrency across every worker: leased slot rows in the database.

A host has ``settings.host_concurrency`` slots (0..N-1). A running job holds one slot
row ``(host, slot)``; the worker renews its lease with the job's heartbeat and deletes
it when the job ends. A slot whose lease expired (its worker died) may be taken over.
Every step is one conditional statement, so any number of workers on SQLite or
PostgreSQL agree on who holds what.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from mediavault.config import Settings
from mediavault.jobs.store import JobStore
from mediavault.jobs.tables import HostSlot, utcnow

__all__ = ["HostLimiter"]


class HostLimiter:
    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def limit_for(self, host: str) -> int:
        return self.settings.host_concurrency

    async def acquire(self, host: str, job_id: str) -> int | None:
        """A free slot number for ``job_id`` on ``host``, or None when all are taken."""
        return await self.store.run(
            self.store.write_core, lambda c: self.acquire_in(c, host, job_id)
        )

    def acquire_in(self, conn: Connection, host: str, job_id: str) -> int | None:
        """``acquire`` inside the caller's transaction (``Engine.claim``)."""
        now = utcnow()
        expires = now + timedelta(seconds=self.settings.lease_seconds)
        dialect = conn.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for slot in range(self.limit_for(host)):
            stmt = (
                insert(HostSlot)
                .values(host=host, slot=slot, job_id=job_id, lease_expires_at=expires)
                .on_conflict_do_nothing()
            )
            if conn.execute(stmt).rowcount == 1:
                return slot
            takeover = (
                update(HostSlot)
                .where(
                    HostSlot.host == host,
                    HostSlot.slot == slot,
                    (HostSlot.lease_expires_at < now) | (HostSlot.job_id == job_id),
                )
                .values(job_id=job_id, lease_expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if conn.execute(takeover).rowcount == 1:
                return slot
        return None

    async def renew(self, host: str, slot: int, job_id: str) -> bool:
        expires = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        stmt = (
            update(HostSlot)
            .where(HostSlot.host == host, HostSlot.slot == slot, HostSlot.job_id == job_id)
            .values(lease_expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        result = await self.store.run(self.store.write, lambda s: s.execute(stmt))
        return bool(result.rowcount == 1)

    async def release(self, host: str, slot: int, job_id: str) -> None:
        stmt = delete(HostSlot).where(
            HostSlot.host == host, HostSlot.slot == slot, HostSlot.job_id == job_id
        )
        await self.store.run(self.store.write, lambda s: s.execute(stmt))

    async def purge_expired(self) -> int:
        stmt = delete(HostSlot).where(HostSlot.lease_expires_at < utcnow())
        result = await self.store.run(self.store.write, lambda s: s.execute(stmt))
        return int(result.rowcount)

    async def held(self, host: str) -> int:
        """How many live slots ``host`` has now (for tests and metrics)."""
        from sqlalchemy import func, select

        stmt = select(func.count()).where(
            HostSlot.host == host, HostSlot.lease_expires_at >= utcnow()
        )
        return int(await self.store.run(self.store.read, lambda s: s.scalar(stmt)) or 0)
