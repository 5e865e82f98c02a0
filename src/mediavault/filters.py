"""Which entries of a channel or playlist to take: upload date, duration, views, count.

One piece of code for the listing (``GET /channel/info``) and the download
(``POST /channel/download`` expanding its job). Filters are inclusive bounds; dates are
``YYYYMMDD`` (an entry's ``upload_date``, else its ``timestamp`` in UTC).

An entry that lacks the value a filter looks at (a feed without durations, a listing
without view counts) is **included** by default: the filter cannot say it is out, and
dropping everything a site does not describe would silently empty whole channels.
With ``strict=True`` such entries are left out instead. ``max_items`` counts the
entries taken, after the other filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mediavault.models import CollectionEntry, MediaItem

__all__ = ["EntryFilters", "FilterSpec", "entry_date", "filter_entries", "matches"]

Entry = CollectionEntry | MediaItem
E = TypeVar("E", CollectionEntry, MediaItem, Entry)
V = TypeVar("V", str, float)


class FilterSpec(Protocol):
    """What a filter set offers (``EntryFilters``, the API's ``ChannelFilters``)."""

    @property
    def date_after(self) -> str | None: ...
    @property
    def date_before(self) -> str | None: ...
    @property
    def min_duration(self) -> float | None: ...
    @property
    def max_duration(self) -> float | None: ...
    @property
    def min_views(self) -> int | None: ...
    @property
    def max_views(self) -> int | None: ...
    @property
    def max_items(self) -> int | None: ...


class EntryFilters(BaseModel):
    """The filters a channel job keeps in ``payload["filters"]`` (see the module doc)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_after: str | None = Field(default=None, pattern=r"^\d{8}$")
    date_before: str | None = Field(default=None, pattern=r"^\d{8}$")
    min_duration: float | None = Field(default=None, ge=0)
    max_duration: float | None = Field(default=None, ge=0)
    min_views: int | None = Field(default=None, ge=0)
    max_views: int | None = Field(default=None, ge=0)
    max_items: int | None = Field(default=None, ge=1)
    strict: bool = False  # leave out entries lacking a filtered value

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(
            value is not None for name, value in self.model_dump().items() if name != "strict"
        )


def entry_date(entry: Entry) -> str | None:
    """An entry's upload day as ``YYYYMMDD`` (from its timestamp when no date is given)."""
    if entry.upload_date:
        return entry.upload_date
    if entry.timestamp is not None:
        return datetime.fromtimestamp(entry.timestamp, tz=UTC).strftime("%Y%m%d")
    return None


def _within(value: V | None, low: V | None, high: V | None, strict: bool) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return not strict
    return (low is None or value >= low) and (high is None or value <= high)


def _strict(filters: FilterSpec, strict: bool | None) -> bool:
    """``strict`` as asked, else the filter set's own ``strict`` (``EntryFilters``)."""
    return bool(getattr(filters, "strict", False)) if strict is None else strict


def matches(entry: Entry, filters: FilterSpec, *, strict: bool | None = None) -> bool:
    """Whether ``entry`` passes the date, duration and views filters (not ``max_items``)."""
    strict = _strict(filters, strict)
    return (
        _within(entry_date(entry), filters.date_after, filters.date_before, strict)
        and _within(entry.duration, filters.min_duration, filters.max_duration, strict)
        and _within(entry.view_count, filters.min_views, filters.max_views, strict)
    )


def filter_entries(
    entries: Iterable[E], filters: FilterSpec, *, strict: bool | None = None
) -> list[E]:
    """The entries passing ``filters``, at most ``filters.max_items`` of them, in order."""
    strict = _strict(filters, strict)
    out: list[E] = []
    for entry in entries:
        if filters.max_items is not None and len(out) >= filters.max_items:
            break
        if matches(entry, filters, strict=strict):
            out.append(entry)
    return out
