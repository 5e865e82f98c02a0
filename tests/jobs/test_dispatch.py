"""The queue on both configurations: ids pushed and popped several per round trip."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from sqlalchemy import update

from mediavault.jobs.engine import Engine
from mediavault.jobs.reaper import Reaper
from mediavault.jobs.tables import Job, utcnow


async def test_many_ids_pop_in_priority_order_then_first_come(engine: Engine) -> None:
    dispatcher = engine.dispatcher
    items = [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", 9), ("f", 0)]
    await asyncio.to_thread(dispatcher.enqueue_many, items)
    assert await asyncio.to_thread(dispatcher.pending) == 6
    first = await asyncio.to_thread(dispatcher.dequeue_many, 4, 1.0)
    assert first == ["e", "b", "d", "a"]
    assert await asyncio.to_thread(dispatcher.dequeue_many, 4, 1.0) == ["c", "f"]
    started = time.monotonic()
    assert await asyncio.to_thread(dispatcher.dequeue_many, 4, 0.3) == []
    assert time.monotonic() - started >= 0.25  # waited for an id before giving up


async def test_a_waiting_pop_takes_an_id_as_soon_as_it_is_sent(engine: Engine) -> None:
    dispatcher = engine.dispatcher
    timer = threading.Timer(0.2, dispatcher.enqueue, ("late",))
    timer.start()
    started = time.monotonic()
    try:
        assert await asyncio.to_thread(dispatcher.dequeue_many, 8, 5.0) == ["late"]
    finally:
        timer.join()
    assert time.monotonic() - started < 2.0


async def test_ids_popped_together_and_lost_are_sent_again(engine: Engine) -> None:
    """A worker killed between popping ids and claiming them: the reaper re-sends all."""
    jobs = [await engine.store.create("test_noop") for _ in range(3)]
    await engine.send(jobs)
    taken = await asyncio.to_thread(engine.dispatcher.dequeue_many, 8, 1.0)
    assert sorted(taken) == sorted(job.id for job in jobs)  # and the worker died
    old = utcnow() - timedelta(seconds=engine.settings.lease_seconds + 1)
    stmt = update(Job).values(dispatched_at=old)
    await engine.store.run(engine.store.write, lambda s: s.execute(stmt))
    assert (await Reaper(engine).tick()).sent == 3
    again = await asyncio.to_thread(engine.dispatcher.dequeue_many, 8, 1.0)
    assert sorted(again) == sorted(taken)
