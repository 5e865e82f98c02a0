"""Real worker processes killed with SIGKILL: nothing is lost, files are correct."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from mediavault.jobs.engine import Engine
from mediavault.services import JobService
from tests.jobs import kinds
from tests.jobs.conftest import Processes, wait_final, wait_for
from tests.support.origin import Origin


@pytest.fixture
def blob_origin(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    data = os.urandom(2 * 1024 * 1024)
    (root / "blob.bin").write_bytes(data)
    with Origin(root) as origin:
        yield origin, hashlib.sha256(data).hexdigest()


async def test_sigkill_mid_download_is_finished_by_another_worker(
    engine: Engine, processes: Processes, blob_origin
) -> None:
    origin, sha = blob_origin
    origin.throttle["/blob.bin"] = 300_000  # ~7 s for the whole file
    service = JobService(engine.settings, engine=engine)
    first = processes.spawn(concurrency=1)
    job = await service.submit(
        "test_fetch", url=origin.url("/blob.bin"), payload={"name": "blob.bin"}
    )

    async def halfway() -> bool:
        current = await engine.store.get(job.id)
        return current is not None and current.downloaded_bytes > 400_000

    await wait_for(halfway, timeout=20, what="download under way")
    processes.kill(first)
    origin.throttle.clear()
    processes.spawn(concurrency=1)
    done = await wait_final(engine, job.id, timeout=30)
    assert done.status == "completed", (done.error_code, done.error_message)
    assert done.attempts == 2
    assert done.result is not None and done.result["sha256"] == sha
    final = Path(engine.settings.data_dir) / "out" / "blob.bin"
    assert hashlib.sha256(final.read_bytes()).hexdigest() == sha
    runs = [r for r in kinds.runs(engine.settings.data_dir) if r[0] == job.id]
    assert [r[1] for r in runs] == [1, 2] and runs[0][2] != runs[1][2]
    # the second attempt resumed from the .part file instead of starting over
    ranges = [rng for method, path, rng in origin.log if path == "/blob.bin"]
    assert ranges[0] is None and ranges[-1] is not None and ranges[-1] != "bytes=0-"
    assert origin.bytes_sent["/blob.bin"] < 2 * 2 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, processes: Processes, proc, timeout: float = 30.0) -> None:
    index = processes.procs.index(proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:  # say why: its own output
            raise AssertionError(f"serve exited early ({proc.returncode}):\n"
                                 + processes.output(index)[-3000:])
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


async def test_kill_of_serve_with_twenty_jobs_then_restart_completes_all(
    engine: Engine, processes: Processes
) -> None:
    service = JobService(engine.settings, engine=engine)
    port = _free_port()
    serve = [str(Path(sys.executable).parent / "mediavault"), "serve", "--port", str(port)]
    first = processes.spawn(*serve)
    _wait_http(f"http://127.0.0.1:{port}/api/v1/health", processes, first)
    jobs = [await service.submit("test_sleep", payload={"seconds": 0.6}) for _ in range(20)]

    async def some_running() -> bool:
        counts = await engine.store.counts_by_status()
        return counts.get("running", 0) > 0 and counts.get("completed", 0) > 0

    await wait_for(some_running, timeout=20, what="jobs running under serve")
    processes.kill(first)
    counts = await engine.store.counts_by_status()
    assert counts.get("completed", 0) < 20  # the kill really interrupted work
    second = processes.spawn(*serve)
    _wait_http(f"http://127.0.0.1:{port}/api/v1/health", processes, second)
    for job in jobs:
        done = await wait_final(engine, job.id, timeout=60)
        assert done.status == "completed", (done.error_code, done.error_message)
    ran = {r[0] for r in kinds.runs(engine.settings.data_dir)}
    assert ran == {j.id for j in jobs}
