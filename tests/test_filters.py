"""Entry filters shared by the channel listing and channel job expansion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from mediavault.filters import EntryFilters, entry_date, filter_entries, matches
from mediavault.models import CollectionEntry, MediaItem


def entry(n: int, **kw: object) -> CollectionEntry:
    return CollectionEntry(url=f"http://127.0.0.1/{n}", id=str(n), **kw)  # type: ignore[arg-type]


ENTRIES = [
    entry(1, upload_date="20240101", duration=30, view_count=5),
    entry(2, timestamp=datetime(2024, 3, 1, 23, 30, tzinfo=UTC).timestamp(), duration=300),
    entry(3, upload_date="20240601", duration=600, view_count=50),
    entry(4),
]


def ids(found: list[CollectionEntry]) -> list[str | None]:
    return [e.id for e in found]


def test_bounds_are_inclusive_and_dates_come_from_timestamps() -> None:
    assert entry_date(ENTRIES[1]) == "20240301"
    only_march = EntryFilters(date_after="20240301", date_before="20240301", strict=True)
    assert ids(filter_entries(ENTRIES, only_march)) == ["2"]
    assert ids(filter_entries(ENTRIES, EntryFilters(min_duration=30, max_duration=300))) == [
        "1",
        "2",
        "4",
    ]


def test_unknown_values_are_taken_unless_strict() -> None:
    views = EntryFilters(min_views=10)
    assert ids(filter_entries(ENTRIES, views)) == ["2", "3", "4"]
    assert ids(filter_entries(ENTRIES, views, strict=True)) == ["3"]
    assert matches(ENTRIES[3], EntryFilters()) and matches(ENTRIES[3], EntryFilters(), strict=True)


def test_max_items_counts_taken_entries() -> None:
    assert ids(filter_entries(ENTRIES, EntryFilters(max_items=2, min_duration=100))) == ["2", "3"]
    assert not EntryFilters(strict=True).active and EntryFilters(max_items=1).active


def test_media_items_are_filtered_too() -> None:
    item = MediaItem(
        platform="generic", id="x", title="x", url="http://127.0.0.1/x", duration=5, formats=()
    )
    assert filter_entries([item], EntryFilters(max_duration=10)) == [item]
    assert filter_entries([item], EntryFilters(min_duration=10)) == []


def test_bad_filters_are_refused() -> None:
    for bad in ({"date_after": "2024-01-01"}, {"max_items": 0}, {"min_views": -1}, {"x": 1}):
        with pytest.raises(ValidationError):
            EntryFilters.model_validate(bad)
