"""The real download / playlist jobs end to end against the local origin."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mediavault.jobs.engine import Engine
from mediavault.models import DownloadOptions
from mediavault.services import JobService
from tests.jobs.conftest import wait_final
from tests.support.origin import Origin


async def test_download_job_stores_the_file(
    engine: Engine, start_worker, origin: Origin, media_root: Path
) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker()
    job = await service.submit("download", origin.url("/video.mp4"), DownloadOptions())
    done = await wait_final(engine, job.id, timeout=60)
    assert done.status == "completed", (done.error_code, done.error_message)
    assert done.result is not None and done.result["paths"]
    item = done.result["items"][0]
    stored = Path(engine.settings.media_dir) / done.result["paths"][0]
    assert stored.is_file()
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == item["sha256"]


async def test_playlist_job_expands_selected_entries(
    engine: Engine, start_worker, origin: Origin
) -> None:
    service = JobService(engine.settings, engine=engine)
    start_worker(concurrency=3)
    job = await service.submit(
        "playlist", origin.url("/feed.rss"), DownloadOptions(playlist_items="1-3")
    )
    done = await wait_final(engine, job.id, timeout=90)
    assert done.status == "completed", (done.error_code, done.error_message)
    assert (done.items_total, done.items_done) == (3, 3)
