"""The worker's hot path on its own event loop: pop, claim, complete, publish (PostgreSQL +
Redis), without a thread hop.

A worker on PostgreSQL + Redis used to make each of these round trips on a thread (the
dequeue thread, the store's pool), and every hop costs a wake-up of that thread, a
wake-up of the loop when it is done, and a fight for the GIL in between: most of a tiny
job's CPU was spent there. ``HotPath`` makes the same round trips from the worker's
event loop, on connections of its own: ``psycopg.AsyncConnection`` (autocommit) for the
batch claim and the batch completion (the statements of ``hotpath.claim_plain`` and
``hotpath.finish_many``, written with ``unnest`` arrays: one prepared statement for any
batch size, a few parameters instead of several per job), and a small RESP2 client on
asyncio streams for ``ZPOPMIN``/``BZPOPMIN`` and ``PUBLISH``.

Failures are handled as on the threaded path: a round trip that finds an idle connection
dead (server restart, terminated backend) is made once more on a fresh connection; any
other failure propagates. Everything else (host-limited claims, heartbeats, progress,
failures, retries) stays on the store's threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from redis.connection import parse_url
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table

from mediavault.jobs.events import _encode, event_for
from mediavault.jobs.hotpath import job_from_values
from mediavault.jobs.tables import Job, new_id, utcnow
from mediavault.models import Event, EventType

__all__ = ["FINISH_AND_CLAIM_SQL", "FINISH_SQL", "Finished", "HotPath", "statement_hooks"]

# Called with the SQL of every statement the hot path sends (tests and `cost` count them).
statement_hooks: list[Callable[[str], None]] = []

_JOBS: Table = Job.__table__  # type: ignore[assignment]
_ALL = ", ".join(f"jobs.{column.name}" for column in _JOBS.c)
_NAMES = [column.key for column in _JOBS.c]

# The same claim as ``hotpath.claim_plain`` (each job its own lease token; only jobs that
# need no host slot), for any number of jobs: one prepared statement serves every batch.
# The rows are found by primary key (``id = ANY(ids)``), never by the (status,
# next_run_at) index: ``status || ''`` keeps the planner off it. Without statistics (a
# new database, autovacuum off) it took that index, so every claim scanned every queued
# job, and the claims got slower as the queue was worked off.
_CLAIM = """UPDATE jobs SET status = 'running', lease_token = v.token,
 lease_expires_at = %(expires)s, heartbeat_at = %(now)s, worker_id = %(worker)s,
 attempts=(jobs.attempts + 1), started_at = coalesce(jobs.started_at, %(now)s), stage = NULL,
 updated_at = %(now)s
FROM unnest(%(ids)s::varchar[], %(tokens)s::varchar[]) AS v(id, token)
WHERE jobs.id = ANY(%(ids)s::varchar[]) AND jobs.id = v.id AND jobs.status || '' = 'queued'
 AND jobs.next_run_at <= %(now)s
 AND jobs.cancel_requested IS false
 AND (jobs.host IS NULL OR jobs.kind = ANY(%(kinds)s::varchar[]))
RETURNING """

# ``hotpath.finish_many`` (status completed; lease-checked per job).
_FINISH = """UPDATE jobs SET status = 'completed', finished_at = %(now)s,
 updated_at = %(now)s, result = v.result, lease_token = NULL, lease_expires_at = NULL,
 speed = NULL, eta = NULL, stage = NULL
FROM unnest(%(done_ids)s::varchar[], %(done_tokens)s::varchar[], %(results)s::json[])
 AS v(id, token, result)
WHERE jobs.id = ANY(%(done_ids)s::varchar[]) AND jobs.id = v.id
 AND jobs.lease_token = v.token AND jobs.status || '' = 'running'
RETURNING """

_EVENT_COLUMNS = ("id", "user_id", "status", "downloaded_bytes", "total_bytes", "speed", "eta")
FINISH_SQL = _FINISH + ", ".join(f"jobs.{name}" for name in _EVENT_COLUMNS)
# Completions and claims in one statement (one commit): the rows each ended, or claimed.
FINISH_AND_CLAIM_SQL = (
    f"WITH done AS ({_FINISH}{_ALL}), claimed AS ({_CLAIM}{_ALL})\n"  # noqa: S608 (no input)
    "SELECT true, * FROM done UNION ALL SELECT false, * FROM claimed"
)
_EVENT_AT = [_NAMES.index(name) for name in _EVENT_COLUMNS]
# psycopg takes the query as bytes too (then it does not encode it on every execute)
_FINISH_BYTES = FINISH_SQL.encode()
_FINISH_AND_CLAIM_BYTES = FINISH_AND_CLAIM_SQL.encode()


@dataclass(frozen=True, slots=True)
class Finished:
    """A job ``HotPath.complete`` ended: what its ``job.completed`` event carries."""

    id: str
    user_id: str | None
    status: str
    downloaded_bytes: int | None
    total_bytes: int | None
    speed: float | None
    eta: float | None

    def event(self) -> Event:
        return event_for(self, EventType.COMPLETED)


def _finish_params(items: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "done_ids": [job_id for job_id, _, _ in items],
        "done_tokens": [token for _, token, _ in items],
        "results": [json.dumps(result) for _, _, result in items],
    }


class _PgConnections:
    """Autocommit ``psycopg.AsyncConnection``s of one event loop, opened as needed."""

    def __init__(self, connect_args: dict[str, Any]) -> None:
        self._connect_args = connect_args
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._closed = False

    async def execute(self, sql: bytes, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement; its rows. A dead idle connection: once more on a fresh one."""
        for hook in statement_hooks:
            hook(sql.decode())
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        try:
            rows = await _run(conn, sql, params)
        except psycopg.OperationalError:
            await conn.close()
            if not reused or not conn.broken:
                raise
            conn = await self._connect()  # nothing reached the server: try once more
            try:
                rows = await _run(conn, sql, params)
            except BaseException:
                await conn.close()
                raise
        except BaseException:
            await conn.close()  # cancelled midway: its state is unknown
            raise
        if self._closed:
            await conn.close()
        else:
            self._idle.append(conn)
        return rows

    async def open_one(self) -> None:
        """Open a connection for the next statement."""
        conn = await self._connect()
        if self._closed:
            await conn.close()
        else:
            self._idle.append(conn)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(**self._connect_args, autocommit=True)
        # These connections only run the statements above, which find their rows by
        # primary key: never a sequential scan (what the planner picks for a table it
        # has no statistics of yet, and the cost then grows with the table), and plan
        # once (psycopg prepares a statement on its 5th use); a fresh plan per
        # statement cost more than running it.
        await conn.execute("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")
        return conn

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()


async def _run(
    conn: psycopg.AsyncConnection[Any], sql: bytes, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall()


class _RedisError(Exception):
    """An error reply."""


class _RedisConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def round_trip(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        self.writer.write(b"".join(_pack(command) for command in commands))
        return [await self._reply() for _ in commands]

    async def _reply(self) -> Any:
        line = await self.reader.readuntil(b"\r\n")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else (await self.reader.readexactly(size + 2))[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [await self._reply() for _ in range(count)]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"-":
            return _RedisError(rest.decode(errors="replace"))
        raise ConnectionError(f"unexpected Redis reply {line[:40]!r}")

    def close(self) -> None:
        self.writer.close()


def _pack(command: Sequence[Any]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


_REDIS_BROKEN = (ConnectionError, OSError, asyncio.IncompleteReadError)


class _RedisConnections:
    """RESP2 round trips on asyncio streams: a connection per round trip in flight."""

    def __init__(self, url: str) -> None:
        kwargs = parse_url(url)
        self._host = str(kwargs.get("host", "localhost"))
        self._port = int(kwargs.get("port", 6379))
        self._path = kwargs.get("path")  # a unix socket
        self._setup: list[tuple[Any, ...]] = []
        if kwargs.get("password") is not None:
            user = kwargs.get("username")
            auth = (user, kwargs["password"]) if user else (kwargs["password"],)
            self._setup.append(("AUTH", *auth))
        if int(kwargs.get("db", 0) or 0):
            self._setup.append(("SELECT", int(kwargs["db"])))
        self._ssl = urlsplit(url).scheme == "rediss"
        self._idle: list[_RedisConnection] = []
        self._closed = False

    async def execute(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one round trip; their replies (error replies raise)."""
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        try:
            try:
                replies = await conn.round_trip(commands)
            except _REDIS_BROKEN:
                conn.close()
                if not reused:
                    raise
                conn = await self._connect()
                replies = await conn.round_trip(commands)
        except BaseException:
            conn.close()  # replies may be left unread: never reuse it as it is
            raise
        if self._closed:
            conn.close()
        else:
            self._idle.append(conn)
        for reply in replies:
            if isinstance(reply, _RedisError):
                raise reply
        return replies

    async def _connect(self) -> _RedisConnection:
        if self._path:
            reader, writer = await asyncio.open_unix_connection(str(self._path))
        else:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=True if self._ssl else None
            )
        conn = _RedisConnection(reader, writer)
        if self._setup:
            for reply in await conn.round_trip(self._setup):
                if isinstance(reply, _RedisError):
                    conn.close()
                    raise reply
        return conn

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class HotPath:
    """Pop, claim, complete and publish for one worker, on its event loop."""

    def __init__(self, database: SqlEngine, queue_url: str, queue_key: str, channel: str) -> None:
        """``database``: the SQLAlchemy engine whose connection arguments to use."""
        cargs, cparams = database.dialect.create_connect_args(database.url)
        conninfo = {"conninfo": cargs[0]} if cargs else {}
        self._pg = _PgConnections(conninfo | dict(cparams))
        self._redis = _RedisConnections(queue_url)
        self._queue_key = queue_key
        self._channel = channel

    async def pop(self, limit: int, wait: float) -> list[bytes]:
        """Up to ``limit`` queue members waiting now, else the next within ``wait`` seconds."""
        popped = (await self._redis.execute([("ZPOPMIN", self._queue_key, limit)]))[0]
        members: list[bytes] = popped[::2]
        if not members and wait > 0:
            blocked = (await self._redis.execute([("BZPOPMIN", self._queue_key, wait)]))[0]
            members = [blocked[1]] if blocked else []
        return members

    async def finish_and_claim(
        self,
        items: Sequence[tuple[str, str, dict[str, Any]]],
        job_ids: Sequence[str],
        worker_id: str,
        plain_kinds: frozenset[str],
        lease: float,
    ) -> tuple[list[Finished], list[Job]]:
        """Complete ``items`` (``(job_id, token, result)``, each lease-checked) and claim
        those of ``job_ids`` that need no host slot (``JobStore.claim_plain_in``: each
        its own lease token), in one statement and one commit. Returns the jobs ended (of
        ``items``: those whose lease held) and the jobs claimed."""
        now = utcnow()
        params = {
            "now": now,
            "expires": now + timedelta(seconds=lease),
            "worker": worker_id,
            "ids": list(job_ids),
            "tokens": [new_id() for _ in job_ids],
            "kinds": sorted(plain_kinds),
        } | _finish_params(items)
        ended: list[Finished] = []
        claimed: list[Job] = []
        for done, *row in await self._pg.execute(_FINISH_AND_CLAIM_BYTES, params):
            if done:
                ended.append(Finished(*(row[i] for i in _EVENT_AT)))
            else:
                claimed.append(job_from_values(dict(zip(_NAMES, row, strict=True))))
        return ended, claimed

    async def complete(self, items: Sequence[tuple[str, str, dict[str, Any]]]) -> list[Finished]:
        """``StoreBase.complete_rows`` without the events: the jobs whose lease held."""
        params = {"now": utcnow()} | _finish_params(items)
        return [Finished(*row) for row in await self._pg.execute(_FINISH_BYTES, params)]

    async def publish(self, events: Sequence[tuple[Event, str | None]]) -> None:
        """Publish ``events`` in order, in one round trip."""
        if events:
            channel = self._channel
            await self._redis.execute(
                [("PUBLISH", channel, _encode(event, user_id)) for event, user_id in events]
            )

    async def connect(self) -> None:
        """Open a connection to each server now, not in the first take (errors: later)."""
        with contextlib.suppress(Exception):
            await self._redis.execute([("PING",)])
        with contextlib.suppress(Exception):
            await self._pg.open_one()

    async def close(self) -> None:
        self._redis.close()
        await self._pg.close()


