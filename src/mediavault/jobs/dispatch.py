"""Dispatch on Huey: the queue only carries job ids; the database is the truth.

``SqliteHuey`` (a file in the data dir) by default, ``PriorityRedisHuey`` when
``settings.queue_url`` is ``redis://``. Workers do not run Huey's consumer: they pull
ids with ``Dispatcher.dequeue`` and claim the job in the database, so a message that is
lost (a worker killed after dequeuing) or duplicated (the reaper re-sending) costs
nothing: the reaper re-sends, and the conditional claim lets only one worker run it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from huey import PriorityRedisHuey, SqliteHuey

from mediavault.config import Settings

__all__ = ["Dispatcher", "dispatcher_for"]

_TASK_NAME = "mediavault.run_job"
_SQLITE_POLL_SECONDS = 0.02


class Dispatcher:
    """Enqueue job ids and pull them back out, in priority order (higher first)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.is_redis = bool(settings.queue_url and settings.queue_url.startswith("redis"))
        self.huey: Any
        if self.is_redis:
            self.huey = PriorityRedisHuey(
                settings.queue_name,
                results=False,
                url=settings.queue_url,
                blocking=True,
                read_timeout=0.5,
            )
        else:
            path = Path(settings.data_dir) / "queue.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(
                settings.queue_name, results=False, filename=str(path), timeout=30
            )
        self._task = self.huey.task(name=_TASK_NAME)(_carrier)
        self._wake = threading.Event()

    def enqueue(self, job_id: str, priority: int = 0) -> None:
        """Send one job id (blocking I/O: call from a thread in async code)."""
        self.huey.enqueue(self._task.s(job_id, priority=priority))
        self._wake.set()

    def dequeue(self, timeout: float = 1.0) -> str | None:
        """The next job id, waiting up to ``timeout`` seconds (blocking: run in a thread)."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.huey.dequeue()
            if task is not None:
                return str(task.args[0])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self.is_redis:
                # Sqlite has no blocking read: poll, but wake at once for local enqueues.
                self._wake.wait(min(_SQLITE_POLL_SECONDS, remaining))
                self._wake.clear()

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def flush(self) -> None:
        """Drop every queued message of this queue (tests and `db reset` only)."""
        self.huey.flush()

    def close(self) -> None:
        storage = self.huey.storage
        if self.is_redis:
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
