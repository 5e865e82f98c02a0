"""PostgreSQL connections that die under the pool: pings off the hot path, retry once.

A PostgreSQL restart (here: ``pg_terminate_backend`` of every connection) leaves dead
connections in the pool. The job store takes connections without a ping and runs a unit
of work once more when its first statement finds the connection dead; other users of the
engine (the API's sessions) still get a pinged connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Job, JobLog, utcnow
from tests.jobs.conftest import wait_final


@pytest.fixture(params=["pg"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _terminate_all(url: str) -> int:
    """Kill every other connection to the test database, as a server restart would."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.fixture
def pings(engine: Engine) -> Iterator[list[int]]:
    """Counts the checkout pings of ``engine``'s pool."""
    dialect = engine.database.engine.dialect
    ping = dialect.do_ping
    seen: list[int] = []

    def counted(dbapi_conn: Any) -> bool:
        seen.append(1)
        return ping(dbapi_conn)

    dialect.do_ping = counted  # type: ignore[method-assign]
    yield seen
    dialect.do_ping = ping  # type: ignore[method-assign]


async def test_the_job_store_survives_terminated_connections(
    engine: Engine, pings: list[int]
) -> None:
    store = engine.store
    jobs = await asyncio.gather(*(store.create("test_noop") for _ in range(6)))  # pool fills
    assert _terminate_all(str(engine.settings.database_url)) >= 2

    # every kind of unit of work: a session write, a read, a Core claim, an autocommit
    # completion (batched), a session read of many rows
    job = await store.create("test_noop")
    assert (await store.get(jobs[0].id)) is not None
    token = await store.claim(job.id, "w")
    assert token is not None
    done = await store.complete(job.id, token, {"ok": True})
    assert done.status == "completed"
    assert (await store.counts_by_status()) == {"queued": 6, "completed": 1}
    assert pings == []  # the store never pinged: it retried instead

    _terminate_all(str(engine.settings.database_url))
    tokens = await asyncio.gather(*(store.claim(j.id, "w") for j in jobs))
    assert all(tokens) and pings == []


async def test_other_sessions_are_still_pinged(engine: Engine, pings: list[int]) -> None:
    await engine.store.create("test_noop")
    _terminate_all(str(engine.settings.database_url))
    with engine.database.sessionmaker() as session:  # as the API takes one
        assert len(session.scalars(select(Job)).all()) == 1
    assert pings  # the dead connection was found by the ping, not by the query


async def test_a_unit_of_work_is_run_again_only_if_nothing_reached_the_database(
    engine: Engine,
) -> None:
    store = engine.store
    job = await store.create("test_noop")
    url = str(engine.settings.database_url)
    await store.get(job.id)  # a pooled connection to kill
    _terminate_all(url)
    runs: list[int] = []

    def dead_before(session: Session) -> None:
        runs.append(1)
        session.add(JobLog(job_id=job.id, level="info", message="once", ts=utcnow()))

    await store.run(store.write, dead_before)
    assert len(runs) == 2  # the first attempt found the connection dead

    def dies_midway(session: Session) -> None:
        runs.append(2)
        session.add(JobLog(job_id=job.id, level="info", message="midway", ts=utcnow()))
        session.flush()  # this statement reached the database
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        session.execute(select(Job.id))

    with pytest.raises(DBAPIError):
        await store.run(store.write, dies_midway)
    assert runs.count(2) == 1  # not run again: its first statement had been sent
    logs = [entry.message for entry in await store.logs(job.id)]
    assert logs == ["once"]  # the transaction that died was rolled back, not repeated
    # and the pool was renewed: the next unit of work just works
    assert (await store.get(job.id)) is not None


async def test_a_worker_survives_terminated_connections(engine: Engine, start_worker) -> None:
    """The worker's own connections (pops, claims and completions on its event loop,
    ``jobs/_aiohot.py``) find a dead connection and make the round trip once more."""
    start_worker(concurrency=2, run_reaper=False)
    first = await engine.store.create("test_noop")
    await engine.send([first])
    assert (await wait_final(engine, first.id)).status == "completed"
    assert _terminate_all(str(engine.settings.database_url)) >= 1
    jobs = [await engine.store.create("test_noop") for _ in range(4)]
    await engine.send(jobs)
    for job in jobs:
        done = await wait_final(engine, job.id)
        assert done.status == "completed" and done.result == {"ok": True}
        assert done.attempts == 1  # claimed and completed once: nothing was lost
