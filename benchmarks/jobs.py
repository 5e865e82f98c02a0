"""Job-engine benchmarks: queue latency and throughput (run: python benchmarks/jobs.py).

1. Queue latency (commit -> job running) p50/p95 on SQLite + SqliteHuey (embedded) and on
   PostgreSQL + Redis, with one idle worker process: jobs are submitted one at a time.
2. Jobs/s for 1,000 tiny local-file jobs (copy 4 KiB via a temp name + rename) with 1 and
   2 worker processes on PostgreSQL + Redis.

Worker processes load this module for the ``bench_copy`` kind (``job_handler_modules``).
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from mediavault.jobs.handlers import JobContext, register_handler

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"


@register_handler("bench_copy", host_limited=False)
async def bench_copy(ctx: JobContext) -> dict[str, Any]:
    data = Path(ctx.settings.data_dir)
    target = data / "out" / f"{ctx.job.id}.bin"

    def copy() -> None:
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(data / "src.bin", tmp)
        tmp.replace(target)

    await asyncio.to_thread(copy)
    return {"path": str(target)}


def _env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env["PYTHONPATH"] = str(REPO)
    env["MEDIAVAULT_ALLOWED_HOSTS"] = "127.0.0.1,localhost,::1"
    values = {
        "DATA_DIR": str(settings.data_dir),
        "QUEUE_NAME": settings.queue_name,
        "JOB_HANDLER_MODULES": "benchmarks.jobs",
        "WORKER_CONCURRENCY": str(settings.worker_concurrency),
        "DATABASE_URL": settings.database_url or "",
        "QUEUE_URL": settings.queue_url or "",
    }
    env.update({f"MEDIAVAULT_{k}": v for k, v in values.items() if v})
    return env


def _settings(tmp: Path, pg_url: str | None) -> Any:
    from mediavault.config import Settings

    data = tmp / uuid.uuid4().hex[:8]
    (data / "out").mkdir(parents=True)
    (data / "src.bin").write_bytes(os.urandom(4096))
    return Settings(
        data_dir=data,
        database_url=pg_url,
        queue_url=REDIS_URL if pg_url else None,
        queue_name=f"bench-{uuid.uuid4().hex[:8]}",
        worker_concurrency=8,
    )


def _spawn(settings: Any, n: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "mediavault.jobs.worker"],
            env=_env(settings), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(n)
    ]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


async def _wait_done(engine: Any, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (await engine.store.counts_by_status()).get("completed", 0) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not finish")
        await asyncio.sleep(0.01 if count < 300 else 0.25)


async def latency(settings: Any, n: int = 200) -> tuple[float, float]:
    from mediavault.jobs.engine import Engine
    from mediavault.services import JobService

    engine = Engine.open(settings)
    service = JobService(settings, engine=engine)
    procs = _spawn(settings, 1)
    try:
        warm = await service.submit("bench_copy")
        await _wait_done(engine, 1)
        samples = []
        for i in range(n):
            job = await service.submit("bench_copy")
            await _wait_done(engine, i + 2)
            done = await engine.store.get(job.id)
            assert done is not None and done.started_at is not None and warm
            samples.append((done.started_at - done.created_at).total_seconds() * 1000)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
    finally:
        _stop(procs)
        engine.close()


async def throughput(settings: Any, workers: int, n: int = 1000) -> float:
    from mediavault.jobs.engine import Engine
    from mediavault.jobs.tables import Job, new_id

    engine = Engine.open(settings)
    procs = _spawn(settings, workers)
    try:
        await asyncio.sleep(3)  # let the workers start and connect
        rows = [Job(id=new_id(), kind="bench_copy", status="queued", options={}) for _ in range(n)]
        await engine.store.run(engine.store.write, lambda s: s.add_all(rows))
        start = time.monotonic()
        await engine.send(rows)
        await _wait_done(engine, n)
        return n / (time.monotonic() - start)
    finally:
        _stop(procs)
        engine.close()


def _pg_database() -> tuple[str, str]:
    import psycopg

    name = f"mv_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mv-bench-jobs-"))
    rows = []
    try:
        p50, p95 = await latency(_settings(tmp, None))
        rows.append(f"| queue latency, SQLite + SqliteHuey | p50 {p50:.1f} ms | p95 {p95:.1f} ms |")
        for label, fn in (
            ("queue latency, PostgreSQL + Redis", "latency"),
            ("1,000 jobs, 1 worker, PostgreSQL + Redis", 1),
            ("1,000 jobs, 2 workers, PostgreSQL + Redis", 2),
        ):
            name, url = _pg_database()
            try:
                if fn == "latency":
                    p50, p95 = await latency(_settings(tmp, url))
                    rows.append(f"| {label} | p50 {p50:.1f} ms | p95 {p95:.1f} ms |")
                else:
                    rate = await throughput(_settings(tmp, url), int(fn))
                    rows.append(f"| {label} | {rate:.0f} jobs/s | |")
            finally:
                _drop(name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| benchmark | result | |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
