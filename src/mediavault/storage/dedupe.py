"""Dedupe: never store the same media twice.

Two questions, one index: "did we already archive this platform's item?" (like yt-dlp's
download archive; subscriptions stop early on it) and "do we already hold these bytes?"
(sha256 of the content). ``FileArchive`` is a small SQLite file for the CLI
(``<output dir>/.mediavault/archive.sqlite3``); ``sql_dedupe.SqlDedupeIndex`` uses the
service database (``media`` and ``archive`` tables), scoped to one user.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mediavault._sqlite import use_wal
from mediavault.errors import PathNotWritableError, StorageError
from mediavault.storage.hashing import sha256_file

__all__ = ["ARCHIVE_RELPATH", "DedupeIndex", "FileArchive", "sha256_file"]

ARCHIVE_RELPATH = Path(".mediavault") / "archive.sqlite3"


@runtime_checkable
class DedupeIndex(Protocol):
    async def find_item(self, platform: str, item_id: str) -> str | None:
        """The stored key of an archived item, or None."""

    async def find_hash(self, sha256: str) -> str | None:
        """The stored key of a file with this content, or None."""

    async def record(
        self,
        platform: str,
        item_id: str,
        sha256: str,
        key: str,
        size: int,
        meta: dict[str, Any],
    ) -> None:
        """Remember that ``platform``/``item_id`` is stored at ``key`` with ``sha256``."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    platform   TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    key        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    meta       TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, item_id)
);
CREATE INDEX IF NOT EXISTS items_sha256 ON items (sha256);
CREATE INDEX IF NOT EXISTS items_key ON items (key);
"""


def _initialise(conn: sqlite3.Connection) -> None:
    use_wal(conn)  # processes opening a new archive together take turns
    conn.executescript(_SCHEMA)


class FileArchive:
    """A dedupe index in one SQLite file (safe for several processes at once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def for_output_dir(cls, output_dir: str | Path) -> FileArchive:
        return cls(Path(output_dir) / ARCHIVE_RELPATH)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise PathNotWritableError(f"cannot open archive {self.path}: {exc}") from exc
        try:
            with self._lock:
                if not self._ready:
                    _initialise(conn)
                    self._ready = True
            with conn:
                yield conn
        except sqlite3.Error as exc:
            raise StorageError(f"archive {self.path} failed: {exc}") from exc
        finally:
            conn.close()

    def _one(self, sql: str, *args: object) -> str | None:
        with self._connect() as conn:
            row = conn.execute(sql, args).fetchone()
        return None if row is None else str(row[0])

    async def find_item(self, platform: str, item_id: str) -> str | None:
        return await asyncio.to_thread(
            self._one, "SELECT key FROM items WHERE platform = ? AND item_id = ?", platform, item_id
        )

    async def find_hash(self, sha256: str) -> str | None:
        return await asyncio.to_thread(
            self._one,
            "SELECT key FROM items WHERE sha256 = ? ORDER BY created_at LIMIT 1",
            sha256.lower(),
        )

    async def record(
        self,
        platform: str,
        item_id: str,
        sha256: str,
        key: str,
        size: int,
        meta: dict[str, Any],
    ) -> None:
        await asyncio.to_thread(self._record, platform, item_id, sha256, key, size, meta)

    def _record(
        self, platform: str, item_id: str, sha256: str, key: str, size: int, meta: dict[str, Any]
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO items (platform, item_id, sha256, key, size, meta, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, item_id) DO UPDATE SET"
                " sha256 = excluded.sha256, key = excluded.key, size = excluded.size,"
                " meta = excluded.meta",
                (platform, item_id, sha256.lower(), key, size, json.dumps(meta, default=str),
                 time.time()),
            )

    async def forget_key(self, key: str) -> int:
        """Drop every entry pointing at ``key`` (its file was deleted); the count removed."""

        def run() -> int:
            with self._connect() as conn:
                return conn.execute("DELETE FROM items WHERE key = ?", (key,)).rowcount

        return await asyncio.to_thread(run)

    async def count(self) -> int:
        def run() -> int:
            with self._connect() as conn:
                return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

        return await asyncio.to_thread(run)
