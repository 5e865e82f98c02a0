"""``mediavault serve`` stopped with SIGTERM: its worker child stops too, and the job it
was running goes back to the queue instead of waiting for a lease to expire."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import psutil

from mediavault.jobs.engine import Engine
from mediavault.services import JobService
from tests.jobs import kinds
from tests.jobs.conftest import Processes, wait_for
from tests.jobs.test_kill import _free_port, _wait_http


async def test_sigterm_stops_the_worker_child_and_requeues_its_job(
    engine: Engine, processes: Processes
) -> None:
    service = JobService(engine.settings, engine=engine)
    port = _free_port()
    serve = processes.spawn(
        str(Path(sys.executable).parent / "mediavault"), "serve", "--port", str(port)
    )
    _wait_http(f"http://127.0.0.1:{port}/api/v1/health", processes, serve)
    job = await service.submit("test_sleep", payload={"seconds": 30})

    async def running() -> bool:
        # "running" is set by the claim, before the handler records its run: wait for both
        current = await engine.store.get(job.id)
        started = any(r[0] == job.id for r in kinds.runs(engine.settings.data_dir))
        return current is not None and current.status == "running" and started

    await wait_for(running, timeout=20, what="the job running under serve")
    children = psutil.Process(serve.pid).children()
    worker = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
    assert len(worker) == 1 and worker[0].pid in {
        r[2] for r in kinds.runs(engine.settings.data_dir)
    }

    os.kill(serve.pid, signal.SIGTERM)  # the parent alone, as a service manager may do
    assert serve.wait(timeout=30) == 0
    assert not worker[0].is_running() or worker[0].status() == psutil.STATUS_ZOMBIE
    after = await engine.store.get(job.id)
    assert after is not None and after.status == "queued", after.status
    assert after.lease_token is None


async def test_a_worker_with_every_slot_busy_stops_promptly(engine: Engine) -> None:
    from mediavault.jobs.worker import run_worker

    service = JobService(engine.settings, engine=engine)
    job = await service.submit("test_sleep", payload={"seconds": 30})
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(engine.settings, concurrency=1, stop=stop, engine=engine)
    )

    async def running() -> bool:
        current = await engine.store.get(job.id)
        return current is not None and current.status == "running"

    await wait_for(running, timeout=20, what="the job running")
    stop.set()
    async with asyncio.timeout(10):  # not the 30 s the job would take
        await worker
    after = await engine.store.get(job.id)
    assert after is not None and after.status == "queued", after.status
