"""Retention deletes expired unpinned files, their rows and empty folders; pins win."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from mediavault.config import Settings
from mediavault.jobs.engine import Engine
from mediavault.jobs.reaper import Reaper
from mediavault.jobs.retention import pin, sweep
from mediavault.jobs.tables import MediaFile, utcnow


async def _store_file(engine: Engine, key: str, *, age: timedelta) -> MediaFile:
    source = Path(engine.settings.data_dir) / "src.bin"
    source.write_bytes(key.encode() * 100)
    stored = await engine.storage.put(source, key)
    row = MediaFile(
        platform="generic", item_id=key, sha256="0" * 64, path=stored.key, size=stored.size,
        created_at=utcnow() - age,
    )
    await engine.store.run(engine.store.write, lambda s: s.add(row))
    return row


async def test_sweep_deletes_expired_keeps_pinned_and_fresh(jobs_settings: Settings) -> None:
    engine = Engine.open(jobs_settings.model_copy(update={"retention": "1h"}))
    try:
        old = await _store_file(engine, "a/old.mp4", age=timedelta(hours=2))
        pinned = await _store_file(engine, "b/pinned.mp4", age=timedelta(hours=3))
        fresh = await _store_file(engine, "c/fresh.mp4", age=timedelta(minutes=5))
        assert await pin(engine, pinned.id)
        assert await sweep(engine) == 1
        media = Path(engine.settings.media_dir)
        assert not (media / "a").exists()  # the file and its now-empty folder are gone
        assert (media / "b" / "pinned.mp4").is_file() and (media / "c" / "fresh.mp4").is_file()
        left = await engine.store.run(
            engine.store.read, lambda s: set(s.scalars(select(MediaFile.id)))
        )
        assert left == {pinned.id, fresh.id} and old.id not in left
        # the reaper runs retention too
        assert await pin(engine, pinned.id, pinned=False)
        report = await Reaper(engine).tick()
        assert report.files_deleted == 1 and not (media / "b").exists()
    finally:
        engine.close()


async def test_sweep_is_off_without_retention(engine: Engine) -> None:
    await _store_file(engine, "x/old.mp4", age=timedelta(days=400))
    assert await sweep(engine) == 0
    assert (Path(engine.settings.media_dir) / "x" / "old.mp4").is_file()
