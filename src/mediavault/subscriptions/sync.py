"""Incremental sync: what is new in a channel/profile, at a cost that grows with what is new.

A sync walks the adapter's entries newest-first and hands each new, wanted entry to a
``Sink`` (download now, or queue a download job). It stops after ``stop_after``
consecutive entries that are already known (the per-platform item archive), so a
10,000-item channel with 10 new items costs about one page of listing.

Two modes:

- ``all`` (full back-catalogue): the first sync is a *backfill* that walks everything,
  saving its cursor as it goes; an interrupted backfill resumes from that cursor (after
  a quick pass over the newest entries) instead of starting again.
- ``new`` (only new from now on): the first sync just records a baseline (the newest
  entries' ids and time) and downloads nothing; later syncs take what is newer.

Entries rejected by the filters neither count as known nor reset the count; an entry
older than the ``date_after`` filter ends the walk (everything after it is older still).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from mediavault.models import CollectionEntry, MediaItem
from mediavault.platforms.base import Adapter, Cursor

__all__ = [
    "DEFAULT_STOP_AFTER",
    "KnownIndex",
    "Sink",
    "SyncFilters",
    "SyncReport",
    "entry_key",
    "run_sync",
]

DEFAULT_STOP_AFTER = 5
BASELINE_SIZE = 10
CHECKPOINT_EVERY = 20  # entries between saves of a backfill's cursor
Entry = MediaItem | CollectionEntry


class KnownIndex(Protocol):
    """The item archive seen by a sync: which (platform, key) pairs are already handled."""

    async def is_known(self, platform: str, key: str) -> bool: ...

    async def mark(self, platform: str, key: str) -> None: ...


class Sink(Protocol):
    """Takes a new entry: downloads it (inline) or queues a job for it.

    Returns True when the entry is handled for good (then it is marked known).
    """

    async def take(self, entry: Entry, platform: str) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class SyncFilters:
    date_after: str | None = None  # YYYYMMDD, inclusive
    date_before: str | None = None  # YYYYMMDD, inclusive
    min_duration: float | None = None
    max_duration: float | None = None
    title_regex: str | None = None
    title_exclude: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SyncFilters:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def too_old(self, entry: Entry) -> bool:
        date = _date_of(entry)
        return bool(self.date_after and date and date < self.date_after)

    def accepts(self, entry: Entry) -> bool:
        """Whether a (not too old) entry is wanted; unknown metadata passes."""
        date = _date_of(entry)
        if self.date_before and date and date > self.date_before:
            return False
        duration = entry.duration
        if duration is not None:
            if self.min_duration is not None and duration < self.min_duration:
                return False
            if self.max_duration is not None and duration > self.max_duration:
                return False
        title = entry.title or ""
        if self.title_regex and not re.search(self.title_regex, title, re.IGNORECASE):
            return False
        return not (self.title_exclude and re.search(self.title_exclude, title, re.IGNORECASE))


@dataclass
class SyncReport:
    listed: int = 0
    taken: int = 0
    known: int = 0
    filtered: int = 0
    failed: int = 0
    stopped: str = "end"  # end | known | max_items | too_old | baseline
    backfill_done: bool = True
    new_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["new_keys"] = self.new_keys[:100]
        return out


def _date_of(entry: Entry) -> str | None:
    if entry.upload_date:
        return entry.upload_date
    if entry.timestamp is not None:
        return datetime.fromtimestamp(entry.timestamp, UTC).strftime("%Y%m%d")
    return None


def entry_key(entry: Entry) -> str:
    """The archive id of an entry: its id, else its URL (hashed when too long)."""
    if entry.id:
        return entry.id
    return entry.url if len(entry.url) <= 200 else "url-sha1:" + hashlib.sha1(
        entry.url.encode(), usedforsecurity=False
    ).hexdigest()


def entry_platform(entry: Entry, collection_platform: str) -> str:
    return entry.platform if isinstance(entry, MediaItem) else collection_platform


Checkpoint = Callable[[dict[str, Any]], Awaitable[None]]
Stop = Literal["end", "known", "max_items", "too_old", "baseline"]


@dataclass
class _Walk:
    """One pass over the entries from ``cursor``."""

    adapter: Adapter
    platform: str
    known: KnownIndex
    sink: Sink
    filters: SyncFilters
    report: SyncReport
    max_items: int | None
    stop_after: int | None  # None: never stop on known entries (a backfill)
    baseline: dict[str, Any] | None = None

    async def run(
        self, cursor: Cursor | None, on_cursor: Callable[[Cursor | None], Awaitable[None]] | None
    ) -> Stop:
        """Walk from ``cursor``; known (or too old) entries end one section (an adapter's
        feed: posts, messages...) and the walk goes on with the next, if it has them."""
        while True:
            outcome, last = await self._section(cursor, on_cursor)
            skip = getattr(self.adapter, "skip_section", None)
            ends_section = outcome in ("known", "too_old", "baseline")
            following = skip(last) if ends_section and skip is not None else None
            if following is None:
                return outcome
            cursor = following

    async def _section(
        self, cursor: Cursor | None, on_cursor: Callable[[Cursor | None], Awaitable[None]] | None
    ) -> tuple[Stop, Cursor | None]:
        streak = 0
        async for entry, after in self.adapter.iter_entries(cursor):
            self.report.listed += 1
            if self.filters.too_old(entry) or self._before_baseline(entry):
                return ("too_old" if self.filters.too_old(entry) else "baseline"), after
            platform = entry_platform(entry, self.platform)
            key = entry_key(entry)
            if await self.known.is_known(platform, key):
                self.report.known += 1
                streak += 1
                if self.stop_after is not None and streak >= self.stop_after:
                    return "known", after
            elif not self.filters.accepts(entry):
                self.report.filtered += 1
            else:
                streak = 0
                if await self.sink.take(entry, platform):
                    await self.known.mark(platform, key)
                    self.report.taken += 1
                    self.report.new_keys.append(key)
                else:
                    self.report.failed += 1
            if on_cursor is not None:
                await on_cursor(after)
            if self.max_items is not None and self.report.taken >= self.max_items:
                return "max_items", after
        return "end", None

    def _before_baseline(self, entry: Entry) -> bool:
        if not self.baseline:
            return False
        if entry_key(entry) in self.baseline.get("keys", ()):
            return True
        stamp = self.baseline.get("ts")
        return stamp is not None and entry.timestamp is not None and entry.timestamp <= stamp


async def run_sync(
    adapter: Adapter,
    *,
    platform: str,
    state: dict[str, Any],
    known: KnownIndex,
    sink: Sink,
    mode: Literal["new", "all"] = "all",
    filters: SyncFilters | None = None,
    max_items: int | None = None,
    stop_after: int = DEFAULT_STOP_AFTER,
    checkpoint: Checkpoint | None = None,
) -> tuple[SyncReport, dict[str, Any]]:
    """Sync once; returns the report and the new state (also given to ``checkpoint``)."""
    filters = filters or SyncFilters()
    report = SyncReport()
    state = dict(state)

    def walk(stop: int | None, baseline: dict[str, Any] | None = None) -> _Walk:
        return _Walk(adapter, platform, known, sink, filters, report, max_items, stop, baseline)

    if mode == "new":
        if "baseline" not in state:
            state["baseline"] = await _baseline(adapter)
            report.listed = len(state["baseline"]["keys"])
            report.stopped = "baseline"
        else:
            report.stopped = await walk(stop_after, state["baseline"]).run(None, None)
        if checkpoint is not None:
            await checkpoint(state)
        return report, state

    backfill = state.get("backfill")
    if backfill is not None and backfill.get("done"):
        report.stopped = await walk(stop_after).run(None, None)
        return report, state
    if backfill is not None:  # an interrupted backfill: newest first, then resume
        report.stopped = await walk(stop_after).run(None, None)
        if report.stopped == "max_items":
            report.backfill_done = False
            return report, state
    backfill = {"cursor": (backfill or {}).get("cursor"), "done": False}
    state["backfill"] = backfill

    steps = 0

    async def save(cursor: Cursor | None) -> None:
        nonlocal steps
        backfill["cursor"] = cursor
        steps += 1
        if checkpoint is not None and steps % CHECKPOINT_EVERY == 0:
            await checkpoint(state)

    report.stopped = await walk(None).run(backfill["cursor"], save)
    backfill["done"] = report.stopped in ("end", "too_old")
    report.backfill_done = backfill["done"]
    if checkpoint is not None:
        await checkpoint(state)
    return report, state


async def _baseline(adapter: Adapter) -> dict[str, Any]:
    keys: list[str] = []
    newest: float | None = None
    async for entry, _ in adapter.iter_entries(None):
        keys.append(entry_key(entry))
        if entry.timestamp is not None:
            newest = max(newest or entry.timestamp, entry.timestamp)
        if len(keys) >= BASELINE_SIZE:
            break
    return {"keys": keys, "ts": newest}

