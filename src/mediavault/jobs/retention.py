"""Retention (``MEDIAVAULT_RETENTION=30d``): delete expired, unpinned files and empty folders.

A ``media`` row older than the retention period and not pinned is deleted first (a
conditional DELETE, so a pin that lands at the same moment wins), then its file, unless
another remaining row still points at the same storage key. Empty folders are pruned at
the end. The archive (``archive`` table) keeps the item ids. Safe to run concurrently.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from mediavault.jobs.store import JobStore
from mediavault.jobs.tables import MediaFile, utcnow

if TYPE_CHECKING:
    from mediavault.jobs.engine import Engine
    from mediavault.storage.base import StorageBackend

__all__ = ["pin", "sweep"]

BATCH = 200


async def sweep(
    engine: Engine, *, storage: StorageBackend | None = None, now: datetime | None = None
) -> int:
    """Delete what expired; returns how many files were deleted (0 when retention is off)."""
    seconds = engine.settings.retention_seconds
    if seconds is None:
        return 0
    if storage is None:
        from mediavault.storage import open_storage

        storage = open_storage(engine.settings.effective_storage_url, engine.settings)
    cutoff = (now or utcnow()) - timedelta(seconds=seconds)
    store = engine.store
    deleted = 0
    while True:
        rows = await store.run(_expired, store, cutoff)
        if not rows:
            break
        for media_id, path in rows:
            if await store.run(_delete_row, store, media_id, cutoff):
                still_used = await store.run(_path_in_use, store, path)
                if not still_used and await storage.exists(path):
                    await storage.delete(path)
                    deleted += 1
        if len(rows) < BATCH:
            break
    await storage.prune_empty_dirs()
    return deleted


def _expired(store: JobStore, cutoff: datetime) -> list[tuple[str, str]]:
    stmt = (
        select(MediaFile.id, MediaFile.path)
        .where(MediaFile.pinned.is_(False), MediaFile.created_at < cutoff)
        .order_by(MediaFile.created_at)
        .limit(BATCH)
    )
    return store.read(lambda s: [(row.id, row.path) for row in s.execute(stmt)])


def _delete_row(store: JobStore, media_id: str, cutoff: datetime) -> bool:
    stmt = delete(MediaFile).where(
        MediaFile.id == media_id, MediaFile.pinned.is_(False), MediaFile.created_at < cutoff
    )
    return bool(store.write(lambda s: s.execute(stmt).rowcount) == 1)  # type: ignore[attr-defined]


def _path_in_use(store: JobStore, path: str) -> bool:
    stmt = select(MediaFile.id).where(MediaFile.path == path).limit(1)
    return store.read(lambda s: s.scalar(stmt)) is not None


async def pin(engine: Engine, media_id: str, pinned: bool = True) -> bool:
    """Keep (or stop keeping) a file past the retention period; False if no such file."""
    stmt = (
        update(MediaFile)
        .where(MediaFile.id == media_id)
        .values(pinned=pinned)
        .execution_options(synchronize_session=False)
    )
    store = engine.store
    result = await store.run(store.write, lambda s: s.execute(stmt))
    return bool(result.rowcount == 1)
