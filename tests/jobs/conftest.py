"""Job-engine fixtures: every test runs on SQLite + SqliteHuey and on PostgreSQL + Redis.

``jobs_settings`` is parametrized over the two configurations:

- ``sqlite``: database and queue files in the test's data dir;
- ``pg``: a database created for this test session on 127.0.0.1:5432 (emptied before
  each test) and Redis DB 13 with a unique queue name per test (flushed afterwards).

Intervals are short (lease 2 s, heartbeat 0.2 s, reaper 0.3 s) so kill/retry tests are
quick. ``engine`` is an ``Engine`` on those settings; ``start_worker`` runs in-process
workers; ``spawn_worker`` starts ``python -m mediavault.jobs.worker`` in its own
process group (killed at teardown).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from mediavault.config import Settings
from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Base, Job
from mediavault.jobs.worker import Worker
from mediavault.models import JobStatus

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/13"
REPO = Path(__file__).resolve().parents[2]

FAST = {
    "lease_seconds": 2.0,
    "heartbeat_seconds": 0.2,
    "reaper_seconds": 0.3,
    "retry_base_seconds": 0.2,
    "retry_max_seconds": 2.0,
    "job_handler_modules": ["tests.jobs.kinds"],
    "allow_private_networks": True,
    "worker_concurrency": 4,
}


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"mv_jobs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_pg(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('public.jobs')").fetchone()
        if exists and exists[0]:
            conn.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture(params=["sqlite", "pg"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jobs_settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    values: dict[str, Any] = dict(FAST)
    values["data_dir"] = tmp_path / "data"
    values["queue_name"] = f"mvtest-{uuid.uuid4().hex[:12]}"
    if backend == "pg":
        url = request.getfixturevalue("pg_database")
        _empty_pg(url)
        values["database_url"] = url
        values["queue_url"] = REDIS_URL
    settings = Settings(**values)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    yield settings
    if backend == "pg":
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*{settings.queue_name}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def engine(jobs_settings: Settings) -> Iterator[Engine]:
    eng = Engine.open(jobs_settings)
    yield eng
    eng.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env["MEDIAVAULT_ALLOWED_HOSTS"] = os.environ.get(
        "MEDIAVAULT_ALLOWED_HOSTS", "127.0.0.1,localhost,::1"
    )
    env["PYTHONPATH"] = str(REPO)
    fields = {
        "data_dir": str(settings.data_dir),
        "queue_name": settings.queue_name,
        "lease_seconds": str(settings.lease_seconds),
        "heartbeat_seconds": str(settings.heartbeat_seconds),
        "reaper_seconds": str(settings.reaper_seconds),
        "retry_base_seconds": str(settings.retry_base_seconds),
        "retry_max_seconds": str(settings.retry_max_seconds),
        "job_handler_modules": ",".join(settings.job_handler_modules),
        "allow_private_networks": "true",
        "host_concurrency": str(settings.host_concurrency),
        "worker_concurrency": str(settings.worker_concurrency),
    }
    if settings.database_url:
        fields["database_url"] = settings.database_url
    if settings.queue_url:
        fields["queue_url"] = settings.queue_url
    for key, value in fields.items():
        env[f"MEDIAVAULT_{key.upper()}"] = value
    return env


class Processes:
    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str, concurrency: int | None = None) -> subprocess.Popen[bytes]:
        cmd = list(args) or [sys.executable, "-m", "mediavault.jobs.worker"]
        if concurrency is not None:
            cmd += ["--concurrency", str(concurrency)]
        log = open(self.tmp_path / f"proc-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=settings_env(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=10)

    def output(self, index: int) -> str:
        return (self.tmp_path / f"proc-{index}.log").read_text(errors="replace")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def processes(jobs_settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(jobs_settings, tmp_path)
    yield procs
    procs.close()


WorkerStarter = Callable[..., Worker]


@pytest.fixture
async def start_worker(engine: Engine) -> AsyncIterator[WorkerStarter]:
    """Start in-process workers on ``engine``; all are stopped at teardown."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    def start(**kwargs: Any) -> Worker:
        worker = Worker(engine, **kwargs)
        stop = asyncio.Event()
        running.append((stop, asyncio.create_task(worker.run(stop))))
        return worker

    yield start
    for stop, _ in running:
        stop.set()
    await asyncio.gather(*(task for _, task in running))


async def wait_final(engine: Engine, job_id: str, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await engine.store.get(job_id)
        assert job is not None
        if JobStatus(job.status).is_final:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")
        await asyncio.sleep(0.05)


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)
