"""Pure helpers behind the routes: Range parsing, channel filters, domain lists."""

from __future__ import annotations

import pytest

from mediavault.api.extract import filter_entries, select_items
from mediavault.api.files import parse_range, result_paths
from mediavault.api.schemas.jobs import ChannelFilters
from mediavault.api.urls import check_input_url, domain_allowed
from mediavault.errors import BlockedURLError
from mediavault.models import CollectionEntry
from mediavault.net.guard import HostPolicy


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-500", 100) == (50, 99)
    assert parse_range("items=1-2", 100) is None
    for bad in ("bytes=100-", "bytes=5-2", "bytes=-0"):
        with pytest.raises(ValueError):
            parse_range(bad, 100)


def test_result_paths() -> None:
    assert result_paths({"paths": ["a/b.mp4", "c"], "items": []}) == ["a/b.mp4", "c"]
    assert result_paths({"paths": []}) == [] and result_paths(None) == []
    assert result_paths({"paths": "a.mp4"}) == [] and result_paths({"paths": ["", 3, "x"]}) == ["x"]


def entry(n: int, **kw) -> CollectionEntry:
    return CollectionEntry(url=f"http://127.0.0.1/{n}", id=str(n), index=n, **kw)


def test_channel_filters_and_playlist_items() -> None:
    entries = [
        entry(1, upload_date="20240101", duration=30, view_count=5),
        entry(2, upload_date="20240301", duration=300, view_count=500),
        entry(3, upload_date="20240601", duration=600, view_count=50),
        entry(4),  # nothing known: a filter cannot rule it out (mediavault.filters)
    ]
    ids = lambda found: [e.id for e in found]  # noqa: E731
    assert ids(filter_entries(entries, ChannelFilters())) == ["1", "2", "3", "4"]
    assert ids(filter_entries(entries, ChannelFilters(date_after="20240201"))) == ["2", "3", "4"]
    assert ids(filter_entries(entries, ChannelFilters(min_duration=60, max_views=100))) == [
        "3",
        "4",
    ]
    assert ids(filter_entries(entries, ChannelFilters(max_items=2))) == ["1", "2"]
    strict = ChannelFilters(date_after="20240201", strict=True)
    assert ids(filter_entries(entries, strict)) == ["2", "3"]  # the unknown one is left out
    assert ids(select_items(entries, "1,3-4")) == ["1", "3", "4"]
    assert ids(select_items(entries, None)) == ["1", "2", "3", "4"]


async def test_domain_lists(make_settings) -> None:
    settings = make_settings(allowed_domains=["127.0.0.1", "example.org"], denied_domains=["bad.example.org"])
    assert domain_allowed(settings, "example.org") and domain_allowed(settings, "a.example.org")
    assert not domain_allowed(settings, "bad.example.org") and not domain_allowed(settings, "x.bad.example.org")
    assert not domain_allowed(settings, "notexample.org")
    policy = HostPolicy.from_settings(settings)
    await check_input_url(settings, policy, "http://127.0.0.1:9/x")
    for url in ("gopher://127.0.0.1/", "http:///nohost", "http://notexample.org/", "not a url"):
        with pytest.raises(BlockedURLError):
            await check_input_url(settings, policy, url)
