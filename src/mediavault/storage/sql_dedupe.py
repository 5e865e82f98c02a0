"""The dedupe index over the service database (``media`` and ``archive`` tables).

Kept apart from ``dedupe`` so the CLI, which uses ``FileArchive``, never imports
SQLAlchemy.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mediavault.jobs.tables import ArchiveEntry, MediaFile

__all__ = ["SqlDedupeIndex"]

_META_COLUMNS = ("title", "uploader", "upload_date", "duration", "job_id")


class SqlDedupeIndex:
    """The service's dedupe index over the ``media``/``archive`` tables, for one user."""

    def __init__(self, sessionmaker: sessionmaker[Session], user_id: str | None) -> None:
        self.sessionmaker = sessionmaker
        self.user_id = user_id

    @property
    def _archive_user(self) -> str:
        return self.user_id or ""

    def _find_item(self, platform: str, item_id: str) -> str | None:
        with self.sessionmaker() as db:
            path = db.scalar(
                select(MediaFile.path)
                .join(ArchiveEntry, ArchiveEntry.media_id == MediaFile.id)
                .where(
                    ArchiveEntry.platform == platform,
                    ArchiveEntry.item_id == item_id,
                    ArchiveEntry.user_id == self._archive_user,
                )
            )
            if path is not None:
                return path
            return db.scalar(
                select(MediaFile.path)
                .where(
                    MediaFile.platform == platform,
                    MediaFile.item_id == item_id,
                    MediaFile.user_id == self.user_id
                    if self.user_id is not None
                    else MediaFile.user_id.is_(None),
                )
                .order_by(MediaFile.created_at)
                .limit(1)
            )

    def _find_hash(self, sha256: str) -> str | None:
        owner = (
            MediaFile.user_id == self.user_id
            if self.user_id is not None
            else MediaFile.user_id.is_(None)
        )
        with self.sessionmaker() as db:
            return db.scalar(
                select(MediaFile.path)
                .where(MediaFile.sha256 == sha256.lower(), owner)
                .order_by(MediaFile.created_at)
                .limit(1)
            )

    def _record(
        self, platform: str, item_id: str, sha256: str, key: str, size: int, meta: dict[str, Any]
    ) -> None:
        extra = {k: v for k, v in meta.items() if k not in _META_COLUMNS}
        with self.sessionmaker() as db, db.begin():
            media = db.scalar(
                select(MediaFile).where(
                    MediaFile.platform == platform,
                    MediaFile.item_id == item_id,
                    MediaFile.path == key,
                    MediaFile.user_id == self.user_id
                    if self.user_id is not None
                    else MediaFile.user_id.is_(None),
                )
            )
            if media is None:
                media = MediaFile(
                    user_id=self.user_id, platform=platform, item_id=item_id, path=key
                )
                db.add(media)
            media.sha256 = sha256.lower()
            media.size = size
            media.title = _str_or_none(meta.get("title"))
            media.uploader = _str_or_none(meta.get("uploader"))
            media.upload_date = _str_or_none(meta.get("upload_date"))
            duration = meta.get("duration")
            media.duration = float(duration) if isinstance(duration, int | float) else None
            media.job_id = _str_or_none(meta.get("job_id"))
            media.meta = extra
            db.flush()
            db.merge(
                ArchiveEntry(
                    platform=platform,
                    item_id=item_id,
                    user_id=self._archive_user,
                    media_id=media.id,
                )
            )

    async def find_item(self, platform: str, item_id: str) -> str | None:
        return await asyncio.to_thread(self._find_item, platform, item_id)

    async def find_hash(self, sha256: str) -> str | None:
        return await asyncio.to_thread(self._find_hash, sha256)

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


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
