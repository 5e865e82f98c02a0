"""Incremental sync against the emulated OnlyFans API with a real SQLite archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediavault.jobs.db import Database
from mediavault.net.session import HttpSession
from mediavault.platforms.onlyfans import OnlyFansAdapter
from mediavault.subscriptions.store import SqlArchive
from mediavault.subscriptions.sync import SyncFilters, run_sync
from tests.emulators import onlyfans as of_emu
from tests.emulators.content import make_catalog
from tests.emulators.fixtures import context, write_rules
from tests.emulators.onlyfans import OnlyFansEmulator

URL = "https://onlyfans.com/alice/posts"
CREDS = {"onlyfans": dict(of_emu.AUTH)}
POSTS = "/api2/v2/users/424242/posts"


class RecordingSink:
    def __init__(self, fail_after: int | None = None) -> None:
        self.taken: list[str] = []
        self.fail_after = fail_after

    async def take(self, entry, platform):
        if self.fail_after is not None and len(self.taken) >= self.fail_after:
            raise RuntimeError("worker died")
        self.taken.append(entry.id)
        return True


@pytest.fixture
def emu(media_root: Path) -> Iterator[OnlyFansEmulator]:
    with OnlyFansEmulator(media_root, make_catalog(posts=60, photo_every=0)) as server:
        yield server


@pytest.fixture
def env(make_settings, emu, tmp_path):
    settings = make_settings(onlyfans_api_base=emu.base_url, onlyfans_rules=str(write_rules(tmp_path)))
    db = Database(settings)
    yield settings, db
    db.dispose()


async def _sync(settings, db, state, sink, **kw):
    async with HttpSession(settings) as session:
        adapter = OnlyFansAdapter(URL, context(settings, session, CREDS))
        return await run_sync(
            adapter, platform="onlyfans", state=state, known=SqlArchive.of(db, "u1"), sink=sink, **kw
        )


async def test_second_sync_costs_one_page_and_takes_only_new(env, emu) -> None:
    settings, db = env
    sink = RecordingSink()
    report, state = await _sync(settings, db, {}, sink)
    assert report.taken == 60 and state["backfill"]["done"] and report.stopped == "end"
    assert emu.origin.requests[POSTS] == 6
    emu.catalog.add_post("fresh one")
    emu.catalog.add_post("fresh two")
    emu.origin.reset_stats()
    sink2 = RecordingSink()
    report2, _ = await _sync(settings, db, state, sink2)
    assert len(sink2.taken) == 2 and report2.stopped == "known"
    assert emu.origin.requests[POSTS] == 1  # one page: 2 new + 5 known, then stop
    assert report2.listed == 7


async def test_interrupted_backfill_resumes_from_its_cursor(env, emu) -> None:
    settings, db = env
    saved: dict = {}

    async def checkpoint(state):
        saved.clear()
        saved.update(state)

    with pytest.raises(RuntimeError):
        await _sync(settings, db, {}, RecordingSink(fail_after=45), checkpoint=checkpoint)
    assert saved["backfill"]["done"] is False and saved["backfill"]["cursor"]["feed"] == "posts"
    emu.origin.reset_stats()
    sink = RecordingSink()
    _, state = await _sync(settings, db, saved, sink, checkpoint=checkpoint)
    assert state["backfill"]["done"]
    assert len(sink.taken) == 15 and sink.taken[0] == "100046"
    # the newest page to see nothing is new, then the backfill from page 5 on (not page 1)
    assert emu.origin.requests[POSTS] == 1 + 2


async def test_only_new_mode_and_filters(env, emu) -> None:
    settings, db = env
    sink = RecordingSink()
    report, state = await _sync(settings, db, {}, sink, mode="new")
    assert sink.taken == [] and report.stopped == "baseline" and len(state["baseline"]["keys"]) == 10
    emu.catalog.add_post("skip me please")
    emu.catalog.add_post("keep me")
    emu.catalog.add_post("keep me too")
    report, state = await _sync(
        settings, db, state, sink, mode="new", filters=SyncFilters(title_exclude="skip")
    )
    assert len(sink.taken) == 2 and report.filtered == 1 and report.stopped == "baseline"
    report, state = await _sync(settings, db, state, sink, mode="new")
    assert len(sink.taken) == 3  # the filtered one, now wanted; nothing older
    report, _ = await _sync(settings, db, {}, RecordingSink(), max_items=4)
    assert report.taken == 4 and report.stopped == "max_items" and not report.backfill_done


async def test_known_run_ends_one_feed_and_the_next_feed_is_still_checked(env, emu) -> None:
    from tests.emulators.content import Entry, Media

    settings, db = env
    profile = "https://onlyfans.com/alice"

    async def sync(state):
        sink = RecordingSink()
        async with HttpSession(settings) as session:
            adapter = OnlyFansAdapter(profile, context(settings, session, CREDS))
            report, state = await run_sync(adapter, platform="onlyfans", state=state,
                                           known=SqlArchive.of(db, "u1"), sink=sink)
        return sink, report, state

    sink, _, state = await sync({})
    assert len(sink.taken) == 60 + 3 + 2 + 1
    emu.catalog.add_post("new post")
    emu.catalog.messages.insert(0, Entry(39_999, 1_700_000_500, "new message", [Media(399_999)]))
    emu.origin.reset_stats()
    sink, _, _ = await sync(state)
    assert sink.taken == [sink.taken[0], "399999"] and len(sink.taken) == 2
    assert emu.origin.requests[POSTS] == 1 and emu.origin.requests["/api2/v2/chats/424242/messages"] == 1
