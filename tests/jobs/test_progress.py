"""Progress of real download jobs as the event bus carries it: real bytes, monotonic,
and the final byte count on ``job.completed`` however fast the download was."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediavault.jobs.engine import Engine
from mediavault.models import DownloadOptions, Event, EventType
from mediavault.services import JobService
from tests.jobs.conftest import wait_final
from tests.support.origin import Origin

FINAL = {EventType.COMPLETED, EventType.FAILED, EventType.SKIPPED, EventType.CANCELLED}


async def job_events(
    engine: Engine, service: JobService, url: str, **options: object
) -> list[Event]:
    """Submit a download job for ``url`` and collect its events until it ends."""
    seen: list[Event] = []
    async with engine.events.subscribe() as events:
        await events.start()
        job = await service.submit("download", url, DownloadOptions(**options))  # type: ignore[arg-type]

        async def collect() -> None:
            async for event, _user in events:
                if event.job_id != job.id:
                    continue
                seen.append(event)
                if event.type in FINAL:
                    return

        await asyncio.wait_for(collect(), 60)
    done = await wait_final(engine, job.id)
    assert done.status == "completed", (done.error_code, done.error_message)
    return seen


def assert_monotonic(events: list[Event]) -> None:
    counts = [e.downloaded_bytes for e in events]
    assert counts == sorted(counts), counts


async def test_fast_download_reports_its_bytes_on_completion(
    engine: Engine, start_worker, origin: Origin, media_root: Path
) -> None:
    size = (media_root / "video.mp4").stat().st_size
    service = JobService(engine.settings, engine=engine)
    start_worker()
    events = await job_events(
        engine, service, origin.url("/video.mp4"), embed_metadata=False, connections=1
    )
    completed = events[-1]
    assert completed.type == EventType.COMPLETED
    assert (completed.downloaded_bytes, completed.total_bytes) == (size, size)
    assert_monotonic(events)


async def test_throttled_download_reports_growing_bytes(
    engine: Engine, start_worker, origin: Origin, media_root: Path
) -> None:
    size = (media_root / "video.mp4").stat().st_size
    origin.throttle["/video.mp4"] = 150_000  # ~1.8 s: several progress reports
    service = JobService(engine.settings, engine=engine)
    start_worker()
    events = await job_events(
        engine, service, origin.url("/video.mp4"), embed_metadata=False, connections=1
    )
    progress = [e for e in events if e.type == EventType.PROGRESS]
    partial = [e.downloaded_bytes for e in progress if 0 < e.downloaded_bytes < size]
    assert partial, [e.downloaded_bytes for e in progress]
    assert_monotonic(events)
    assert (events[-1].downloaded_bytes, events[-1].total_bytes) == (size, size)


async def test_duplicate_download_reports_the_archived_size(
    engine: Engine, start_worker, origin: Origin, media_root: Path
) -> None:
    size = (media_root / "video.mp4").stat().st_size
    service = JobService(engine.settings, engine=engine)
    start_worker()
    url = origin.url("/video.mp4")
    await job_events(engine, service, url, embed_metadata=False)
    again = await job_events(engine, service, url, embed_metadata=False)
    assert (again[-1].downloaded_bytes, again[-1].total_bytes) == (size, size)
    assert_monotonic(again)
