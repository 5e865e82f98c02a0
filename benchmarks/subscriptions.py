"""Benchmark: syncing a 10,000-item channel with 10 new items vs a full re-listing.

The channel is the emulated OnlyFans API (tests/emulators) with 10,000 posts (50 per
page, the platform's own cap), all already in the archive, plus 10 new posts. We
measure, over real local HTTP:

- incremental sync (mediavault.subscriptions.sync.run_sync): listing requests, media
  requests (the 10 new items are really downloaded), wall time;
- a full re-listing (every page walked, every entry checked against the archive, the
  same 10 new items downloaded): the same numbers.

Run: .venv/bin/python benchmarks/subscriptions.py   (writes a table to stdout)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.emulators import onlyfans as of_emu  # noqa: E402
from tests.emulators.content import make_catalog  # noqa: E402
from tests.emulators.onlyfans import OnlyFansEmulator  # noqa: E402
from tests.support.media import ensure_media  # noqa: E402

from mediavault.config import Settings  # noqa: E402
from mediavault.jobs.db import Database  # noqa: E402
from mediavault.jobs.tables import ArchiveEntry  # noqa: E402
from mediavault.net.session import HttpSession  # noqa: E402
from mediavault.platforms.base import AdapterContext  # noqa: E402
from mediavault.platforms.onlyfans import OnlyFansAdapter  # noqa: E402
from mediavault.subscriptions.store import SqlArchive  # noqa: E402
from mediavault.subscriptions.sync import entry_key, run_sync  # noqa: E402

CHANNEL = 10_000
NEW = 10
URL = "https://onlyfans.com/alice/posts"
USER = "bench"


class DownloadSink:
    """Downloads the best format of each new item with the HTTP session."""

    def __init__(self, session: HttpSession, out: Path) -> None:
        self.session, self.out, self.count = session, out, 0

    async def take(self, entry, platform):
        fmt = entry.formats[0]
        async with self.session.stream("GET", fmt.url) as response:
            data = await response.aread()
        (self.out / f"{entry.id}.{fmt.ext}").write_bytes(data)
        self.count += 1
        return True


def seed_archive(db: Database, ids: list[str]) -> None:
    with db.write_sessionmaker() as session, session.begin():
        session.add_all(ArchiveEntry(platform="onlyfans", item_id=i, user_id=USER) for i in ids)


async def incremental(settings: Settings, db: Database, emu: OnlyFansEmulator, out: Path) -> dict:
    emu.origin.reset_stats()
    started = time.perf_counter()
    async with HttpSession(settings) as session:
        ctx = AdapterContext(settings=settings, session=session, credentials={"onlyfans": of_emu.AUTH})
        sink = DownloadSink(session, out)
        report, _ = await run_sync(
            OnlyFansAdapter(URL, ctx), platform="onlyfans", state={"backfill": {"done": True}},
            known=SqlArchive.of(db, USER), sink=sink,
        )
    return {"wall": time.perf_counter() - started, "api": emu.api_requests(), "media": emu.media_requests(),
            "listed": report.listed, "downloaded": sink.count}


async def full_relisting(settings: Settings, db: Database, emu: OnlyFansEmulator, out: Path) -> dict:
    emu.origin.reset_stats()
    started = time.perf_counter()
    archive = SqlArchive.of(db, USER)
    listed = 0
    async with HttpSession(settings) as session:
        ctx = AdapterContext(settings=settings, session=session, credentials={"onlyfans": of_emu.AUTH})
        sink = DownloadSink(session, out)
        async for entry, _ in OnlyFansAdapter(URL, ctx).iter_entries():
            listed += 1
            if not await archive.is_known("onlyfans", entry_key(entry)):
                await sink.take(entry, "onlyfans")
    return {"wall": time.perf_counter() - started, "api": emu.api_requests(), "media": emu.media_requests(),
            "listed": listed, "downloaded": sink.count}


async def main() -> None:
    media = ensure_media()
    catalog = make_catalog(posts=CHANNEL, messages=0, stories=0, highlights=0, photo_every=0)
    with tempfile.TemporaryDirectory() as tmp, OnlyFansEmulator(media.root, catalog, page_cap=50) as emu:
        tmp_path = Path(tmp)
        rules = tmp_path / "rules.json"
        rules.write_text(json.dumps(of_emu.RULES))
        settings = Settings(
            data_dir=tmp_path / "data", allow_private_networks=True, allowed_hosts=["127.0.0.1"],
            onlyfans_api_base=emu.base_url, onlyfans_rules=str(rules),
        )
        db = Database(settings)
        seed_archive(db, [str(m.id) for m in catalog.all_media()])
        new_ids = [str(catalog.add_post(f"new {n}").media[0].id) for n in range(NEW)]
        inc = await incremental(settings, db, emu, tmp_path)
        # forget the 10 so the re-listing has the same work to do
        with db.write_sessionmaker() as session, session.begin():
            session.query(ArchiveEntry).filter(ArchiveEntry.item_id.in_(new_ids)).delete()
        full = await full_relisting(settings, db, emu, tmp_path)
        db.dispose()
    print(f"channel: {CHANNEL} items, {NEW} new; 50 items per API page\n")
    print("| run | API requests | media requests | entries listed | downloaded | wall time |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in (("incremental sync", inc), ("full re-listing", full)):
        print(f"| {name} | {row['api']} | {row['media']} | {row['listed']} | {row['downloaded']} | {row['wall']:.2f} s |")
    ratio = inc["api"] / full["api"]
    total = (inc["api"] + inc["media"]) / (full["api"] + full["media"])
    print(f"\nlisting requests: {ratio:.2%} of the full re-listing (target <= 2%); "
          f"all requests incl. downloads: {total:.2%}; wall time: {inc['wall'] / full['wall']:.2%}")


if __name__ == "__main__":
    asyncio.run(main())
