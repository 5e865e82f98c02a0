"""``mediavault serve``'s embedded worker in a child process: jobs run there, their
events reach the API's bus, a crashed child is restarted, stop is graceful."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

from mediavault.api.embedded import WorkerProcess
from mediavault.config import Settings
from mediavault.jobs.events import event_bus_for
from mediavault.jobs.tables import Job
from mediavault.models import EventType
from mediavault.services import JobService
from tests.jobs import kinds


async def _final_events(settings: Settings, job: Callable[[], Any], count: int) -> set[str]:
    """Subscribe on this process's bus, submit, and collect the job's event types."""
    bus = event_bus_for(settings)
    seen: set[str] = set()
    async with bus.subscribe() as events:
        submitted: Job = await job()
        async with asyncio.timeout(30):
            async for event, _user in events:
                if event.job_id == submitted.id:
                    seen.add(EventType(event.type).value)
                    if event.type == EventType.COMPLETED:
                        break
    assert len(seen) >= count, seen
    return seen


async def test_jobs_run_in_the_child_and_their_events_reach_the_api(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(job_handler_modules=["tests.jobs.kinds"], log_level="WARNING")
    service = JobService(settings)
    worker = WorkerProcess(settings)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        seen = await _final_events(
            settings, lambda: service.submit("test_sleep", payload={"seconds": 0.3}), 3
        )
        assert {"job.queued", "job.started", "job.completed"} <= seen  # the last two: relayed
        child = worker.process
        assert child is not None and child.pid is not None and child.pid != os.getpid()
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, ours + 10)  # niced
        ran = kinds.runs(settings.data_dir)
        assert len(ran) == 1 and ran[0][2] == child.pid

        os.kill(child.pid, signal.SIGKILL)  # a crash: the supervisor starts a new child
        async with asyncio.timeout(30):
            while worker.restarts == 0 or worker.process is child:
                await asyncio.sleep(0.05)
        seen = await _final_events(settings, lambda: service.submit("test_noop"), 2)
        assert "job.completed" in seen
        assert kinds.runs(settings.data_dir)[-1][2] == worker.process.pid
    finally:
        stop.set()
        async with asyncio.timeout(40):
            await running
        service.close()
    last = worker.process
    assert last is not None
    try:
        alive = last.is_alive()
    except ValueError:  # closed after it was reaped: it exited
        alive = False
    assert not alive
