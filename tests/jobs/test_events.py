"""The event bus: in-process fan-out, and Redis pub/sub across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable

from mediavault.config import Settings
from mediavault.jobs.events import EventBus
from mediavault.models import Event, EventType
from tests.jobs.conftest import REPO, settings_env

PUBLISH = """
import asyncio
from mediavault.config import get_settings
from mediavault.jobs.events import EventBus
from mediavault.models import Event
bus = EventBus(get_settings())
event = Event(type="job.completed", job_id="j-remote", status="completed", ts="2024-01-01T00:00:00+00:00")
asyncio.run(bus.publish(event, user_id="u1"))
"""


def _event(job_id: str) -> Event:
    return Event(type=EventType.PROGRESS, job_id=job_id, status="running", ts="2024-01-01T00:00:00")


async def test_every_subscriber_gets_every_event(jobs_settings: Settings) -> None:
    bus = EventBus(jobs_settings)
    async with bus.subscribe() as one, bus.subscribe() as two:
        for i in range(3):
            await bus.publish(_event(f"j{i}"), user_id="u")
        async with asyncio.timeout(5):
            for sub in (one, two):
                got = [await anext(sub) for _ in range(3)]
                assert [(e.job_id, u) for e, u in got] == [("j0", "u"), ("j1", "u"), ("j2", "u")]
    bus.close()


async def test_events_cross_processes_over_redis(jobs_settings: Settings, backend: str) -> None:
    bus = EventBus(jobs_settings)
    async with bus.subscribe() as events:
        env = settings_env(jobs_settings)
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", PUBLISH], env=env, cwd=REPO, check=True,
            timeout=60,
        )
        if backend == "sqlite":  # embedded: another process's events do not arrive
            try:
                async with asyncio.timeout(0.5):
                    await anext(events)
                raise AssertionError("embedded bus must be in-process only")
            except TimeoutError:
                return
        async with asyncio.timeout(5):
            event, user_id = await anext(events)
    assert (event.job_id, event.type, user_id) == ("j-remote", EventType.COMPLETED, "u1")
    bus.close()


async def test_listeners_hear_events_in_the_publishing_thread_before_subscribers(
    make_settings: Callable[..., Settings],
) -> None:
    bus = EventBus(make_settings())  # in-process (with Redis, events come by subscribing)
    heard: list[tuple[str, str | None, str, int]] = []

    def listener(event: Event, user_id: str | None) -> None:
        heard.append((event.job_id, user_id, threading.current_thread().name, sub._queue.qsize()))

    async with bus.subscribe() as sub:
        stop = bus.listen(listener)
        await asyncio.to_thread(bus.publish_sync, _event("j1"), user_id="u")
        assert heard == [("j1", "u", heard[0][2], 0)]  # before the subscriber was offered it
        assert heard[0][2] != threading.current_thread().name  # in the publishing thread
        async with asyncio.timeout(5):
            assert (await anext(sub))[0].job_id == "j1"
        stop()
        stop()  # stopping twice is harmless
        await bus.publish(_event("j2"), user_id="u")
        async with asyncio.timeout(5):
            assert (await anext(sub))[0].job_id == "j2"
    assert [job_id for job_id, *_ in heard] == ["j1"]
    bus.close()
