"""Job-engine benchmarks: queue latency and throughput (run: python benchmarks/jobs.py).

1. Queue latency (commit -> job running) p50/p95 on SQLite + SqliteHuey (embedded) and on
   PostgreSQL + Redis, with one idle worker process: jobs are submitted one at a time.
2. Jobs/s for 1,000 tiny local-file jobs (copy 4 KiB via a temp name + rename) with 1 and
   2 worker processes on PostgreSQL + Redis, with the CPU seconds per job spent in the
   worker processes, PostgreSQL and Redis.
3. ``python benchmarks/jobs.py cost``: the per-job cost inside one in-process worker
   (SQL statements, transactions, estimated PostgreSQL round trips, Redis commands, CPU).

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
    # the caller's PYTHONPATH first (to benchmark another checkout's src), then the repo
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))
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


def _cpu(procs: list[Any]) -> float:
    """User + system CPU seconds used so far by ``procs`` (gone ones count 0)."""
    import psutil

    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _server_cpu() -> dict[str, dict[int, float]]:
    """CPU seconds so far of each PostgreSQL and Redis server process (all backends).

    Compare two snapshots with ``_cpu_delta``: backends that started in between (pools
    connect lazily) count from zero.
    """
    import psutil

    found: dict[str, dict[int, float]] = {"postgres": {}, "redis": {}}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        name = proc.info["name"] or ""
        times = proc.info["cpu_times"]
        group = "postgres" if name.startswith("postgres") else "redis"
        if times is not None and (name.startswith("postgres") or name.startswith("redis-s")):
            found[group][proc.pid] = times.user + times.system
    return found


def _cpu_delta(before: dict[str, dict[int, float]]) -> dict[str, float]:
    after = _server_cpu()
    return {
        group: sum(cpu - before[group].get(pid, 0.0) for pid, cpu in pids.items())
        for group, pids in after.items()
    }


async def _submit(engine: Any, n: int) -> list[Any]:
    from mediavault.jobs.tables import Job, new_id

    rows = [Job(id=new_id(), kind="bench_copy", status="queued", options={}) for _ in range(n)]
    await engine.store.run(engine.store.write, lambda s: s.add_all(rows))
    return rows


async def throughput(settings: Any, workers: int, n: int = 1000) -> dict[str, float]:
    """Jobs/s of ``workers`` worker processes, and CPU seconds per job by process group.

    The time is from the send of the ids to the last job's ``finished_at``. The driver
    polls for the end only every 0.25 s (to stay off the workers' CPU), so the polled
    time is up to 0.25 s long (``jobs_per_s_polled``), a large error on a run of ~1.5 s.
    """
    from datetime import UTC, datetime

    import psutil
    from sqlalchemy import func, select

    from mediavault.jobs.engine import Engine
    from mediavault.jobs.tables import Job

    engine = Engine.open(settings)
    procs = _spawn(settings, workers)
    try:
        await asyncio.sleep(3)  # let the workers start and connect
        rows = await _submit(engine, n)
        groups = {"worker": [psutil.Process(p.pid) for p in procs], "driver": [psutil.Process()]}
        before = {k: _cpu(v) for k, v in groups.items()}
        servers = _server_cpu()
        start, started = time.monotonic(), datetime.now(UTC)
        await engine.send(rows)
        await _wait_done(engine, n)
        polled = time.monotonic() - start
        spent = {k: _cpu(v) - before[k] for k, v in groups.items()} | _cpu_delta(servers)
        used = {k: v / n * 1000 for k, v in spent.items()}
        last = select(func.max(Job.finished_at))
        ended = await engine.store.run(engine.store.read, lambda s: s.scalar(last))
        elapsed = (ended - started).total_seconds()
        return {
            "jobs_per_s": n / elapsed,
            "jobs_per_s_polled": n / polled,
            **{f"{k}_ms": v for k, v in used.items()},
        }
    finally:
        _stop(procs)
        engine.close()


async def cost(settings: Any, n: int = 500) -> dict[str, float]:
    """Per-job cost in one in-process worker (concurrency 8): SQL, Redis, CPU.

    Statements, pool checkouts, commits and rollbacks are counted with SQLAlchemy events
    on the worker's engine only, and checkout pings by wrapping its dialect's ``do_ping``;
    PostgreSQL round trips are estimated as psycopg makes them: each ping, each
    statement, and BEGIN + COMMIT (or ROLLBACK) per transaction (autocommit writes have
    neither). Redis commands come from ``INFO commandstats`` (server-wide: other clients
    of the server add noise; commands sent together in one round trip count one each).
    """
    import psutil
    import redis
    from sqlalchemy import event

    from mediavault.jobs._aiohot import statement_hooks
    from mediavault.jobs.engine import Engine
    from mediavault.jobs.worker import Worker

    driver = Engine.open(settings)
    engine = Engine.open(settings)
    counts = {
        "hot_statements": 0,
        "checkouts": 0,
        "pings": 0,
        "statements": 0,
        "begins": 0,
        "commits": 0,
        "rollbacks": 0,
    }
    sql = engine.database.engine
    ping = sql.dialect.do_ping

    def counted_ping(dbapi_conn: Any) -> bool:
        counts["pings"] += 1
        return ping(dbapi_conn)

    sql.dialect.do_ping = counted_ping  # type: ignore[method-assign]

    def bump(key: str) -> Any:
        def listener(*_args: Any, **_kw: Any) -> None:
            counts[key] += 1

        return listener

    event.listen(sql.pool, "checkout", bump("checkouts"))
    event.listen(sql, "before_cursor_execute", bump("statements"))
    # the worker's own connections (jobs/_aiohot.py): one statement each, autocommit
    statement_hooks.append(lambda _sql: (bump("statements")(), bump("hot_statements")()))
    event.listen(sql, "begin", bump("begins"))
    event.listen(sql, "commit", bump("commits"))

    def rollback(conn: Any) -> None:
        # closing an autocommit connection "rolls back" without a round trip
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            counts["rollbacks"] += 1

    event.listen(sql, "rollback", rollback)
    client = redis.Redis.from_url(REDIS_URL)

    def redis_calls() -> int:
        stats = client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")

    server_cpu: dict[str, float] = {}

    async def work(count: int, servers: dict[str, dict[int, float]] | None = None) -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(Worker(engine, concurrency=8, run_reaper=False).run(stop))
        t0 = time.monotonic()
        try:
            await _wait_done(driver, count)
            if servers is not None:  # before the worker closes its own connections
                server_cpu.update(_cpu_delta(servers))
        finally:
            stop.set()
            await task
        return time.monotonic() - t0

    try:
        await _submit(driver, 20)  # warm up: imports, connections, statement caches
        await driver.send(await driver.store.run(driver.store.read, _queued))
        await work(20)
        rows = await _submit(driver, n)
        await driver.send(rows)  # queued before the worker starts: only its work is timed
        me = psutil.Process()
        start = dict(counts)
        cpu0 = _cpu([me])
        servers = _server_cpu()
        own0 = me.cpu_times()
        redis0 = redis_calls()
        elapsed = await work(n + 20, servers)
        redis1 = redis_calls()
        own = me.cpu_times()
        cpu = {"process": _cpu([me]) - cpu0} | server_cpu
        used = {k: (counts[k] - start[k]) / n for k in counts}
        # each ping and statement, BEGIN + COMMIT/ROLLBACK per transaction (autocommit
        # writes have neither: SQLAlchemy reports no commit for them)
        rt = used["pings"] + used["statements"] + 2 * (used["commits"] + used["rollbacks"])
        return {
            **used,
            "pg_round_trips": rt,
            "redis_commands": (redis1 - redis0 - 1) / n,
            "jobs_per_s": n / elapsed,
            **{f"{k}_cpu_ms": v / n * 1000 for k, v in cpu.items()},
            "process_user_ms": (own.user - own0.user) / n * 1000,
            "process_system_ms": (own.system - own0.system) / n * 1000,
        }
    finally:
        engine.close()
        driver.close()
        client.close()


def _queued(session: Any) -> list[Any]:
    from sqlalchemy import select

    from mediavault.jobs.tables import Job

    return list(session.scalars(select(Job).where(Job.status == "queued")))


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


async def main_cost() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mv-bench-jobs-"))
    name, url = _pg_database()
    try:
        result = await cost(_settings(tmp, url))
    finally:
        _drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    for key, value in result.items():
        print(f"{key:>32}: {value:8.2f}")


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mv-bench-jobs-"))
    rows: list[str] = []
    rates: list[float] = []
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
                    r = await throughput(_settings(tmp, url), int(fn))
                    rates.append(r["jobs_per_s"])
                    rows.append(
                        f"| {label} | {r['jobs_per_s']:.0f} jobs/s (polled: "
                        f"{r['jobs_per_s_polled']:.0f}) | CPU ms/job: worker "
                        f"{r['worker_ms']:.2f}, postgres {r['postgres_ms']:.2f}, redis "
                        f"{r['redis_ms']:.2f}, driver {r['driver_ms']:.2f} |"
                    )
            finally:
                _drop(name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows.append(f"| 2 workers / 1 worker | {rates[1] / rates[0]:.2f}x | target >= 1.7x |")
    print("| benchmark | result | |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main_cost() if sys.argv[1:] == ["cost"] else main())
