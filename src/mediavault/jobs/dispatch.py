"""Dispatch on Huey: the queue only carries job ids; the database is the truth.

``SqliteHuey`` (a file in the data dir) by default, ``PriorityRedisHuey`` when
``settings.queue_url`` is ``redis://``. Workers do not run Huey's consumer: they pull
ids with ``Dispatcher.dequeue`` and claim the job in the database, so a message that is
lost (a worker killed after dequeuing) or duplicated (the reaper re-sending) costs
nothing: the reaper re-sends, and the conditional claim lets only one worker run it.
A worker pops as many ids as it has free slots in one round trip and claims them at once
(``Engine.take``), so no id waits in a worker's memory.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huey import PriorityRedisHuey, SqliteHuey

from mediavault.config import Settings
from mediavault.jobs._redis import RawRedis

__all__ = ["Dispatcher", "dispatcher_for"]

_TASK_NAME = "mediavault.run_job"
_SQLITE_POLL_SECONDS = 0.02
_ENQUEUE_BATCH = 500  # ids per pipelined Redis round trip


class Dispatcher:
    """Enqueue job ids and pull them back out, in priority order (higher first).

    On Redis the queue is Huey's ``PriorityRedisStorage`` sorted set (member: an 8-byte
    time prefix, FIFO within a priority, then the serialized Huey message; score:
    ``-priority``), read and written here through ``RawRedis``: several ids pushed or
    popped per round trip.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_redis = bool(settings.queue_url and settings.queue_url.startswith("redis"))
        self.huey: Any
        self._redis: RawRedis | None = None
        if self.is_redis:
            assert settings.queue_url is not None
            self.huey = PriorityRedisHuey(
                settings.queue_name, results=False, url=settings.queue_url, blocking=True
            )
            self._redis = RawRedis(settings.queue_url)
        else:
            path = Path(settings.data_dir) / "queue.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(
                settings.queue_name, results=False, filename=str(path), timeout=30
            )
        self._task = self.huey.task(name=_TASK_NAME)(_carrier)
        self._wake = threading.Event()
        self._clock_lock = threading.Lock()
        self._last_us = 0

    def enqueue(self, job_id: str, priority: int = 0) -> None:
        """Send one job id (blocking I/O: call from a thread in async code)."""
        self.enqueue_many([(job_id, priority)])

    def enqueue_many(self, items: Sequence[tuple[str, int]]) -> None:
        """Send ``(job_id, priority)`` pairs; on Redis, up to 500 per round trip."""
        if self._redis is None:
            for job_id, priority in items:
                self.huey.enqueue(self._task.s(job_id, priority=priority))
            self._wake.set()
            return
        key = self.huey.storage.queue_key
        for start in range(0, len(items), _ENQUEUE_BATCH):
            commands = []
            for job_id, priority in items[start : start + _ENQUEUE_BATCH]:
                data = self.huey.serialize_task(self._task.s(job_id, priority=priority))
                member = struct.pack(">Q", self._enqueue_clock()) + data
                commands.append(("ZADD", key, -priority, member))
            self._redis.execute(commands)

    def _enqueue_clock(self) -> int:
        """Microseconds since the epoch, strictly increasing within this process."""
        with self._clock_lock:
            self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
            return self._last_us

    def dequeue(self, timeout: float = 1.0) -> str | None:
        """The next job id, waiting up to ``timeout`` seconds (blocking: run in a thread)."""
        ids = self.dequeue_many(1, timeout)
        return ids[0] if ids else None

    def dequeue_many(self, limit: int, timeout: float = 1.0) -> list[str]:
        """Up to ``limit`` job ids: those waiting now, taken in one round trip, else the
        next one to arrive within ``timeout`` seconds (blocking: run in a thread)."""
        if self._redis is None:
            return self._poll_sqlite(limit, timeout)
        key = self.huey.storage.queue_key
        popped = self._redis.call("ZPOPMIN", key, limit)  # [member, score, member, …]
        members = popped[::2]
        if not members and timeout > 0:
            blocked = self._redis.call("BZPOPMIN", key, timeout)  # [key, member, score]
            members = [blocked[1]] if blocked else []
        return [self._job_id(member[8:]) for member in members]

    def _poll_sqlite(self, limit: int, timeout: float) -> list[str]:
        # SQLite has no blocking read: poll, but wake at once for local enqueues.
        deadline = time.monotonic() + timeout
        ids: list[str] = []
        while True:
            while len(ids) < limit and (task := self.huey.dequeue()) is not None:
                ids.append(str(task.args[0]))
            remaining = deadline - time.monotonic()
            if ids or remaining <= 0:
                return ids
            self._wake.wait(min(_SQLITE_POLL_SECONDS, remaining))
            self._wake.clear()

    def _job_id(self, data: bytes) -> str:
        return str(self.huey.serializer.deserialize(data).args[0])

    @property
    def queue_key(self) -> str | None:
        """The Redis key of the queue's sorted set (None on SQLite)."""
        return str(self.huey.storage.queue_key) if self._redis is not None else None

    def job_id_of(self, member: bytes) -> str:
        """The job id carried by a member of the Redis queue (``HotPath.pop``)."""
        return self._job_id(member[8:])

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def flush(self) -> None:
        """Drop every queued message of this queue (tests and `db reset` only)."""
        self.huey.flush()

    def close(self) -> None:
        storage = self.huey.storage
        if self._redis is not None:
            self._redis.close()
            storage.conn.close()
            storage.pool.disconnect()
        else:
            storage.close()


def _carrier(job_id: str) -> None:  # pragma: no cover - never executed by Huey here
    """Huey task signature; workers pull the id and run the job themselves."""
    raise RuntimeError(f"job {job_id} must be run by a mediavault worker")


_cache: dict[tuple[str | None, str, str], Dispatcher] = {}
_cache_lock = threading.Lock()


def dispatcher_for(settings: Settings) -> Dispatcher:
    """The process-wide dispatcher of a queue (shared so local enqueues wake local pollers)."""
    key = (settings.queue_url, settings.queue_name, str(Path(settings.data_dir).resolve()))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Dispatcher(settings)
        return _cache[key]
