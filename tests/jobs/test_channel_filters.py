"""A channel job applies ``payload["filters"]`` while expanding the local RSS feed.

The feed has clips 01..12 published 2024-01-02..2024-01-13 and no durations or views.
"""

from __future__ import annotations

from typing import Any

from mediavault.jobs.engine import Engine
from mediavault.services import JobService
from tests.jobs.conftest import wait_final
from tests.support.origin import Origin


async def expanded_titles(
    engine: Engine, origin: Origin, filters: dict[str, Any]
) -> tuple[str, list[str]]:
    service = JobService(engine.settings, engine=engine)
    job = await service.submit(
        "channel",
        origin.url("/feed.rss"),
        {"embed_metadata": False},
        payload={"filters": filters},
    )
    done = await wait_final(engine, job.id, timeout=90)
    page = await engine.store.children(job.id, limit=100)
    titles = sorted(child.title or "" for child in page.items)
    assert done.items_total == len(titles)
    return done.status, titles


async def test_date_filter_yields_only_matching_children(
    engine: Engine, start_worker, origin: Origin
) -> None:
    start_worker(concurrency=3)
    status, titles = await expanded_titles(
        engine, origin, {"date_after": "20240110", "date_before": "20240112"}
    )
    assert status == "completed"
    assert titles == ["Clip 09", "Clip 10", "Clip 11"]


async def test_unknown_durations_are_taken_unless_strict(
    engine: Engine, start_worker, origin: Origin
) -> None:
    start_worker(concurrency=2)
    # the feed says nothing about durations: not excluded; max_items caps the count
    status, titles = await expanded_titles(
        engine, origin, {"min_duration": 100, "max_items": 2, "date_after": "20240105"}
    )
    assert status == "completed"
    assert titles == ["Clip 11", "Clip 12"]  # newest first in the feed
    status, titles = await expanded_titles(engine, origin, {"min_duration": 100, "strict": True})
    assert titles == []
