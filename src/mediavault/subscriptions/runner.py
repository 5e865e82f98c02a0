"""Running one subscription's sync: lease, adapter, sink, state, result.

Two sinks take the new entries:

- ``JobSink``: inside a ``subscription_sync`` or ``profile_scrape`` job, each new entry
  becomes a child download job (a creator platform's resolved ``MediaItem`` travels in
  the child's payload as ``{"item": ...}``, a reference as ``{"entry": ...}``). The job row
  is durable, so the entry counts as handled once its job exists.
- ``ClientSink``: the CLI's direct sync downloads each entry now with a ``Client``; only a
  completed (or deliberately skipped, e.g. ``drm_protected``) download counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mediavault.errors import ConflictError, MediavaultError
from mediavault.jobs.tables import Subscription, utcnow
from mediavault.models import CollectionEntry, DownloadOptions, ItemStatus, JobKind, MediaItem
from mediavault.platforms.base import Adapter, AdapterContext, adapter_for
from mediavault.subscriptions.store import SubscriptionStore
from mediavault.subscriptions.sync import SyncFilters, SyncReport, run_sync

if TYPE_CHECKING:
    from mediavault.client import Client
    from mediavault.config import Settings
    from mediavault.jobs.handlers import JobContext
    from mediavault.models import DownloadResult
    from mediavault.net.session import HttpSession

__all__ = ["ClientSink", "JobSink", "child_spec", "open_adapter", "sync_subscription"]

log = logging.getLogger("mediavault.subscriptions")


def child_spec(entry: MediaItem | CollectionEntry) -> dict[str, Any]:
    """The ``spawn_child`` arguments of a download job for one entry."""
    key = "item" if isinstance(entry, MediaItem) else "entry"
    return {"url": entry.url, "payload": {key: entry.model_dump(mode="json")},
            "title": entry.title}


@dataclass
class JobSink:
    ctx: JobContext
    options: dict[str, Any]
    spawned: int = 0

    async def take(self, entry: MediaItem | CollectionEntry, platform: str) -> bool:
        spec = child_spec(entry)
        await self.ctx.spawn_child(JobKind.DOWNLOAD, options=self.options, **spec)
        self.spawned += 1
        return True


@dataclass
class ClientSink:
    client: Client
    options: DownloadOptions
    results: list[DownloadResult] = field(default_factory=list)

    async def take(self, entry: MediaItem | CollectionEntry, platform: str) -> bool:
        try:
            result = await self.client.download_entry(entry, self.options)
        except MediavaultError as exc:
            log.warning("download of %s failed: [%s] %s", entry.url, exc.code, exc.message)
            return False
        self.results.append(result)
        return result.status in (ItemStatus.COMPLETED, ItemStatus.SKIPPED)


@contextlib.asynccontextmanager
async def open_adapter(
    url: str,
    settings: Settings,
    session: HttpSession,
    credentials: dict[str, Any],
) -> AsyncIterator[Adapter]:
    adapter = adapter_for(url)(
        url, AdapterContext(settings=settings, session=session, credentials=credentials)
    )
    try:
        yield adapter
    finally:
        await adapter.close()


@contextlib.asynccontextmanager
async def _lease(
    store: SubscriptionStore, sub_id: str, lease_seconds: float
) -> AsyncIterator[str]:
    token = await store.claim(sub_id, lease_seconds, due_only=False)
    deadline = asyncio.get_running_loop().time() + lease_seconds + 1
    while token is None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)  # another sync holds it, or a dead one's lease runs out
        token = await store.claim(sub_id, lease_seconds, due_only=False)
    if token is None:
        raise ConflictError(f"subscription {sub_id} is being synced by another worker")

    async def keep() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            await store.extend(sub_id, token, lease_seconds)

    keeper = asyncio.create_task(keep())
    try:
        yield token
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await keeper


async def sync_subscription(
    sub: Subscription,
    *,
    store: SubscriptionStore,
    adapter: Adapter,
    known: Any,
    sink: Any,
    lease_seconds: float,
) -> SyncReport:
    """Sync ``sub`` once under its lease; state and the next due time are saved."""
    async with _lease(store, sub.id, lease_seconds) as token:
        synced = False
        try:
            async def checkpoint(state: dict[str, Any]) -> None:
                await store.save_state(sub.id, token, state)

            report, state = await run_sync(
                adapter,
                platform=sub.platform or adapter.name,
                state=dict(sub.state or {}),
                known=known,
                sink=sink,
                mode="new" if sub.mode == "new" else "all",
                filters=SyncFilters.from_dict(sub.filters),
                max_items=sub.max_items,
                checkpoint=checkpoint,
            )
            state["last_result"] = {**report.as_dict(), "at": utcnow().isoformat()}
            await store.save_state(sub.id, token, state)
            synced = True
            return report
        finally:
            next_at = utcnow() + timedelta(seconds=sub.interval_seconds) if synced else None
            await store.release(sub.id, token, next_sync_at=next_at, synced=synced)
