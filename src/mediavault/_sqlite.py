"""What every SQLite file of mediavault needs (the job store, the dedupe archive)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

__all__ = ["use_wal"]


def use_wal(conn: Any, patience: float = 30.0) -> None:
    """Put ``conn``'s database in WAL mode (a no-op once it is).

    The first switch takes an exclusive lock without waiting in SQLite's busy handler,
    so processes opening a new database together would fail with "database is locked":
    here they take turns for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
