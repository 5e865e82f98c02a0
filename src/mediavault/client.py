"""The library API.

::

    async with mediavault.Client(output_dir="~/media") as mv:
        item = await mv.info(url)
        results = await mv.download(url, DownloadOptions(format="720p"), on_progress=print)

A ``Client`` owns one HTTP session, one storage backend and one dedupe index. Without
``output_dir``/``storage`` it stores into ``settings.effective_storage_url``. Work files
(resumable ``.part`` state) live in the storage's scratch area: ``<output dir>/.mediavault``
for local storage. The dedupe index defaults to ``<output dir>/.mediavault/archive.sqlite3``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from mediavault import errors
from mediavault.config import Settings, get_settings
from mediavault.models import (
    Collection,
    CollectionEntry,
    DownloadOptions,
    DownloadResult,
    Format,
    ItemStatus,
    MediaItem,
    Progress,
)
from mediavault.net.session import HttpSession
from mediavault.pipeline import PipelineContext, download_item, skipped_result
from mediavault.platforms.base import Adapter, AdapterContext, Cursor, adapter_for
from mediavault.storage import open_storage
from mediavault.storage.base import StorageBackend
from mediavault.storage.dedupe import DedupeIndex, FileArchive
from mediavault.storage.local import LocalStorage

__all__ = ["Client", "PlaylistItems"]

ProgressCallback = Callable[[Progress], None]

_ITEM_RANGE = re.compile(r"^\s*(\d+)?\s*(-)?\s*(\d+)?\s*$")


class PlaylistItems:
    """Which collection entries to take: ``"1-10,15"``, ``"3-"``, ``"-5"`` (1-based)."""

    def __init__(self, spec: str | None) -> None:
        self.spec = spec
        self.ranges: list[tuple[int, int | None]] = []
        for part in (spec or "").split(","):
            if not part.strip():
                continue
            match = _ITEM_RANGE.match(part)
            if not match or not (match.group(1) or match.group(3)):
                raise errors.InputError(f"invalid playlist items {spec!r}: bad part {part!r}")
            first, dash, last = match.groups()
            start = int(first) if first else 1
            end = (int(last) if last else None) if dash else start
            if start < 1 or (end is not None and end < start):
                raise errors.InputError(f"invalid playlist items {spec!r}: bad range {part!r}")
            self.ranges.append((start, end))

    def __contains__(self, index: int) -> bool:
        return not self.ranges or any(
            start <= index and (end is None or index <= end) for start, end in self.ranges
        )

    def exhausted(self, index: int) -> bool:
        """True when no entry after ``index`` can be wanted (stop paging)."""
        return bool(self.ranges) and all(end is not None and index >= end for _, end in self.ranges)


class Client:
    """Extract, list and download media (see the module doc)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        output_dir: str | Path | None = None,
        storage: StorageBackend | None = None,
        dedupe: DedupeIndex | None = None,
        cookies_file: str | None = None,
        credentials: dict[str, Any] | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        if storage is None:
            if output_dir is not None:
                storage = LocalStorage(Path(output_dir).expanduser())
            else:
                storage = open_storage(self.settings.effective_storage_url, self.settings)
        self.storage = storage
        self.dedupe = dedupe if dedupe is not None else _default_archive(storage, self.settings)
        self.cookies_file = cookies_file
        self.credentials = dict(credentials or {})
        self.concurrency = concurrency or self.settings.worker_concurrency
        self._session: HttpSession | None = None

    # lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        self._session = HttpSession(self.settings, cookies_file=self.cookies_file)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.aclose()
            self._session = None

    @property
    def session(self) -> HttpSession:
        if self._session is None:
            raise errors.MediavaultError("use the Client as 'async with Client(...) as mv:'")
        return self._session

    # extraction ----------------------------------------------------------------------

    def _adapter(self, url: str) -> Adapter:
        cls = adapter_for(url.strip())
        ctx = AdapterContext(
            settings=self.settings,
            session=self.session,
            credentials=self.credentials,
            cookies_file=self.cookies_file,
        )
        return cls(url.strip(), ctx)

    async def info(self, url: str) -> MediaItem | Collection:
        """Metadata of the item at ``url``, or of the collection with its entries."""
        adapter = self._adapter(url)
        try:
            return await adapter.extract()
        finally:
            await adapter.close()

    async def formats(self, url: str) -> list[Format]:
        """The formats of the item at ``url`` (DRM-protected ones flagged ``drm``)."""
        result = await self.info(url)
        if isinstance(result, Collection):
            raise errors.InputError(
                f"{url} is a {result.kind} of {result.entry_count} entries, not one item; "
                "list formats of an entry instead"
            )
        return list(result.formats)

    async def entries(
        self, url: str, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        """The entries of the collection at ``url`` (lazily paged), each with a resume cursor."""
        adapter = self._adapter(url)
        try:
            async for entry, next_cursor in adapter.iter_entries(cursor):
                yield entry, next_cursor
        finally:
            await adapter.close()

    # downloads -----------------------------------------------------------------------

    def _context(
        self, on_progress: ProgressCallback | None, cancel: asyncio.Event | None
    ) -> PipelineContext:
        return PipelineContext(
            settings=self.settings,
            session=self.session,
            storage=self.storage,
            work_dir=self.storage.scratch_dir() / "work",
            dedupe=self.dedupe,
            on_progress=on_progress,
            cancel=cancel,
        )

    async def download(
        self,
        url: str,
        options: DownloadOptions | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> list[DownloadResult]:
        """Download the item at ``url``, or every wanted entry of the collection there.

        A single item's failure raises; in a collection each entry gets its own result
        (``failed`` with the error code as ``reason``), DRM-protected ones ``skipped``.
        """
        options = options or DownloadOptions()
        wanted = PlaylistItems(options.playlist_items)
        result = await self.info(url)
        if isinstance(result, MediaItem):
            return [
                await self.download_entry(result, options, on_progress=on_progress, cancel=cancel)
            ]
        return await self._download_collection(url, result, options, wanted, on_progress, cancel)

    async def _download_collection(
        self,
        url: str,
        collection: Collection,
        options: DownloadOptions,
        wanted: PlaylistItems,
        on_progress: ProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> list[DownloadResult]:
        results: dict[int, DownloadResult] = {}
        limit = asyncio.Semaphore(self.concurrency)

        async def one(index: int, entry: MediaItem | CollectionEntry) -> None:
            async with limit:
                results[index] = await self._entry_result(
                    entry, options, collection, index, on_progress, cancel
                )

        async with asyncio.TaskGroup() as group:
            index = 0
            async for entry, _cursor in self.entries(url):
                index += 1
                if wanted.exhausted(index - 1):
                    break
                if index in wanted:
                    group.create_task(one(index, entry))
        return [results[i] for i in sorted(results)]

    async def _entry_result(
        self,
        entry: MediaItem | CollectionEntry,
        options: DownloadOptions,
        collection: Collection,
        index: int,
        on_progress: ProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> DownloadResult:
        try:
            return await self.download_entry(
                entry, options, on_progress=on_progress, cancel=cancel,
                playlist=collection.title, playlist_index=index,
            )  # fmt: skip
        except errors.CancelledError_:
            raise
        except errors.MediavaultError as exc:
            return DownloadResult(
                platform=collection.platform,
                item_id=(entry.id or entry.url) if isinstance(entry, CollectionEntry) else entry.id,
                title=(entry.title or entry.url)
                if isinstance(entry, CollectionEntry)
                else entry.title,
                status=ItemStatus.FAILED,
                reason=exc.code,
                message=exc.message,
                url=entry.url,
            )

    async def resolve(
        self, entry: MediaItem | CollectionEntry, *, playlist: str | None = None,
        playlist_index: int | None = None,
    ) -> MediaItem:  # fmt: skip
        """The ``MediaItem`` behind a collection entry (entry metadata fills the gaps)."""
        if isinstance(entry, MediaItem):
            item = entry
        else:
            found = await self.info(entry.url)
            if isinstance(found, Collection):
                raise errors.InputError(f"entry {entry.url} is itself a {found.kind}")
            item = _overlay(found, entry)
        update: dict[str, Any] = {}
        if playlist is not None and item.playlist is None:
            update["playlist"] = playlist
        if playlist_index is not None:
            update["playlist_index"] = playlist_index
        return item.model_copy(update=update) if update else item

    async def download_entry(
        self,
        entry: MediaItem | CollectionEntry,
        options: DownloadOptions | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
        playlist: str | None = None,
        playlist_index: int | None = None,
    ) -> DownloadResult:
        """Download one item or collection entry (resolving the entry first)."""
        options = options or DownloadOptions()
        item = await self.resolve(entry, playlist=playlist, playlist_index=playlist_index)
        if item.drm and not any(not fmt.drm for fmt in item.formats):
            return skipped_result(
                item, errors.DRMProtectedError(f"{item.title!r} is DRM-protected")
            )
        ctx = self._context(on_progress, cancel)
        return await download_item(item, options, ctx=ctx)

    def local_path(self, result: DownloadResult) -> Path | None:
        """Where ``result``'s file is on this machine (None for remote storage)."""
        key = result.path
        return self.storage.local_path(key) if key else None


def _overlay(item: MediaItem, entry: CollectionEntry) -> MediaItem:
    """An entry's own metadata (feed titles, dates, guids) wins over a bare extraction."""
    update: dict[str, Any] = {}
    if entry.title and (item.title in (item.id, "") or item.platform == "generic"):
        update["title"] = entry.title
    if entry.timestamp is not None and (item.timestamp is None or item.platform == "generic"):
        update["timestamp"] = entry.timestamp
        if not entry.upload_date:
            when = datetime.fromtimestamp(entry.timestamp, tz=UTC)
            update["upload_date"] = when.strftime("%Y%m%d")
    if entry.upload_date and not item.upload_date:
        update["upload_date"] = entry.upload_date
    if entry.duration is not None and item.duration is None:
        update["duration"] = entry.duration
    return item.model_copy(update=update) if update else item


def _default_archive(storage: StorageBackend, settings: Settings) -> DedupeIndex:
    if isinstance(storage, LocalStorage):
        return FileArchive.for_output_dir(storage.root)
    return FileArchive(settings.data_dir / "archive.sqlite3")
