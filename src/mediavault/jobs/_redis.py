"""A lean Redis client for the job engine's hot path: pop and push job ids, publish events.

redis-py's client checks a connection out of its pool for every command (a pid check and
a readability poll each time) and wraps each call in retry and reply-callback layers.
For the few commands a worker sends per job, ``RawRedis`` sends packed commands on
connections of its own (one round trip for any number of commands) and returns the raw
RESP2 replies. A round trip that meets a broken connection is made once more on a fresh
connection; a second failure raises.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.connection import parse_url

__all__ = ["RawRedis"]

_BROKEN = (redis.ConnectionError, redis.TimeoutError, OSError)


class RawRedis:
    """Round trips of packed commands on a small pool of connections (any thread)."""

    def __init__(self, url: str) -> None:
        kwargs = parse_url(url)
        connection_class = kwargs.pop("connection_class", redis.Connection)
        kwargs["protocol"] = 2  # replies in one shape, whatever the URL asks
        self._connect = functools.partial(connection_class, **kwargs)
        self._idle: queue.SimpleQueue[redis.Connection] = queue.SimpleQueue()
        self._all: list[redis.Connection] = []
        self._lock = threading.Lock()

    def call(self, *command: Any) -> Any:
        """One command; its reply."""
        return self.execute([command])[0]

    def execute(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one round trip; their replies, in order."""
        conn = self._take()
        try:
            try:
                replies = _round_trip(conn, commands)
            except _BROKEN:
                conn.disconnect()
                replies = _round_trip(conn, commands)  # connects afresh
        except BaseException:
            conn.disconnect()  # replies may be left unread: never reuse it as it is
            raise
        finally:
            self._idle.put(conn)
        return replies

    def _take(self) -> redis.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            conn: redis.Connection = self._connect()
            with self._lock:
                self._all.append(conn)
            return conn

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.disconnect()


def _round_trip(conn: redis.Connection, commands: Sequence[Sequence[Any]]) -> list[Any]:
    packed: Any = conn.pack_commands(commands)  # bytes chunks (typed as str by the stubs)
    conn.send_packed_command(packed)
    return [conn.read_response() for _ in commands]

