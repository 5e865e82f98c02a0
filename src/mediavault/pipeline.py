"""One item, start to finish: select, fetch, post-process, hash, dedupe, store.

``download_item(item, options, ctx=...)`` returns a ``DownloadResult``:

- ``completed`` with ``path`` = the storage key of the stored file (``extra_paths`` for
  subtitles/thumbnails written beside it), or with ``duplicate_of`` = the key already
  holding this item (same platform id) or these bytes (same sha256): no second copy;
- ``skipped`` with ``reason`` = the error code (``drm_protected``...).

Other failures raise. Work files live in ``ctx.work_dir/<platform>-<id>/``: kept after a
cancel or a transient network failure (the next run resumes from the transfer engine's
``.part`` state), removed after success or any other failure. One download of an item
runs at a time: a concurrent one (another task or process) waits on the item's work lock
(``download.worklock``), then finds the item archived (``duplicate_of``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mediavault import errors
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.download.worklock import work_lock
from mediavault.models import (
    AudioFormat,
    DownloadOptions,
    DownloadResult,
    Format,
    ItemStatus,
    MediaItem,
    Progress,
)
from mediavault.net.session import HttpSession
from mediavault.postprocess import (
    embed_metadata,
    extract_audio,
    has_own_metadata,
    merge,
    merge_container,
    metadata_for,
    probe,
    remux,
    supports_metadata,
)
from mediavault.postprocess.sidecars import choose_subtitles, choose_thumbnail, fetch_to
from mediavault.postprocess.subtitles import (
    can_embed_subtitles,
    convert_subtitle,
    embed_subtitles,
)
from mediavault.postprocess.thumbnails import can_embed_thumbnail, embed_thumbnail, to_jpeg
from mediavault.select import is_audio_spec, select_formats
from mediavault.storage.base import StorageBackend
from mediavault.storage.dedupe import DedupeIndex
from mediavault.storage.hashing import sha256_file
from mediavault.storage.templates import (
    fields_for,
    render_template,
    sanitize_component,
    validate_template,
)

__all__ = ["PipelineContext", "archive_id", "download_item", "skipped_result"]

log = logging.getLogger(__name__)

_AUDIO_BY_CODEC = {
    "aac": AudioFormat.M4A,
    "mp3": AudioFormat.MP3,
    "opus": AudioFormat.OPUS,
    "flac": AudioFormat.FLAC,
}


@dataclass(kw_only=True)
class PipelineContext:
    """What the pipeline works with; shared by the CLI, the library and the workers."""

    settings: Settings
    session: HttpSession
    storage: StorageBackend
    work_dir: Path
    dedupe: DedupeIndex | None = None
    on_progress: Callable[[Progress], None] | None = None
    cancel: asyncio.Event | None = None
    user_id: str | None = None


def archive_id(item: MediaItem) -> str:
    """The id the dedupe index knows ``item`` by.

    yt-dlp's generic extractor names items after the file (``video``), which is not
    unique across sites; there the page URL makes it so.
    """
    if item.platform == "generic":
        digest = hashlib.sha256(item.url.encode()).hexdigest()[:16]
        return f"{item.id} {digest}"
    return item.id


def skipped_result(item: MediaItem, exc: errors.MediavaultError) -> DownloadResult:
    return DownloadResult(
        platform=item.platform,
        item_id=item.id,
        title=item.title,
        status=ItemStatus.SKIPPED,
        reason=exc.code,
        message=exc.message,
        url=item.url,
    )


async def download_item(
    item: MediaItem, options: DownloadOptions, *, ctx: PipelineContext
) -> DownloadResult:
    """Download ``item`` as ``options`` say into ``ctx.storage`` (see the module doc)."""
    try:
        return await _Run(item, options, ctx).run()
    except errors.SkippedError as exc:
        return skipped_result(item, exc)


class _ProgressSum:
    """One progress stream per item, summed over the formats fetched for it.

    ``downloaded_bytes`` only grows: post-processing reports the bytes fetched, and the
    ``finished`` report has ``downloaded_bytes == total_bytes``: the bytes fetched for
    the item, or (nothing fetched: already archived) the size of the stored file.
    """

    def __init__(self, item: MediaItem, parts: int, ctx: PipelineContext) -> None:
        self.item = item
        self.callback = ctx.on_progress
        self.parts: list[Progress | None] = [None] * parts

    def fetched(self) -> int:
        return sum(p.downloaded_bytes for p in self.parts if p)

    def emit(self, status: Literal["postprocessing", "finished"], size: int = 0) -> None:
        if self.callback is None:
            return
        done = self.fetched()
        totals = [p.total_bytes for p in self.parts if p]
        total = sum(t for t in totals if t) if totals and all(totals) else None
        if status == "finished":
            done = total = done or size
        self.callback(
            Progress(
                item_id=self.item.id,
                status=status,
                downloaded_bytes=done,
                total_bytes=total,
                title=self.item.title,
            )
        )

    def for_part(self, index: int) -> Callable[[Progress], None] | None:
        if self.callback is None:
            return None
        callback = self.callback

        def update(progress: Progress) -> None:
            self.parts[index] = progress
            known = [p for p in self.parts if p]
            totals = [p.total_bytes for p in known]
            speeds = [p.speed for p in known if p.speed]
            etas = [p.eta for p in known if p.eta is not None]
            callback(
                progress.model_copy(
                    update={
                        "item_id": self.item.id,
                        "title": self.item.title,
                        "status": "downloading",
                        "downloaded_bytes": sum(p.downloaded_bytes for p in known),
                        "total_bytes": sum(t for t in totals if t)
                        if len(known) == len(self.parts) and all(totals)
                        else None,
                        "speed": sum(speeds) if speeds else None,
                        "eta": max(etas) if etas else None,
                    }
                )
            )

        return update


class _Run:
    def __init__(self, item: MediaItem, options: DownloadOptions, ctx: PipelineContext) -> None:
        self.item = item
        self.options = options
        self.ctx = ctx
        self.settings = ctx.settings
        self.template = options.template or ctx.settings.template
        self.audio_only = (
            options.audio_only or options.audio_format is not None or is_audio_spec(options.format)
        )
        self.work = ctx.work_dir / sanitize_component(f"{item.platform}-{item.id}")
        self.extras: list[tuple[Path, str]] = []  # (file, key suffix like ".en.vtt")
        # digests the engine computed while fetching: path -> (size, mtime_ns, sha256)
        self.digests: dict[Path, tuple[int, int, str]] = {}

    # the whole run -----------------------------------------------------------------

    async def run(self) -> DownloadResult:
        validate_template(self.template)
        formats = select_formats(self.item, self.options.format, audio_only=self.audio_only)
        archived = await self._archived()
        if archived is not None:
            return self._archived_result(archived, formats)
        await self.ctx.storage.check_writable()
        try:
            async with work_lock(self.work, cancel=self.ctx.cancel):
                return await self._locked(formats)
        finally:
            with contextlib.suppress(OSError):
                self.ctx.work_dir.rmdir()  # only when empty

    async def _locked(self, formats: list[Format]) -> DownloadResult:
        """The download proper, holding the item's work lock: a concurrent download of
        the same item waited for it, and finds the item archived by the first."""
        archived = await self._archived()
        if archived is not None:
            return self._archived_result(archived, formats)
        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise errors.PathNotWritableError(
                f"cannot create work directory {self.work}: {exc.strerror or exc}"
            ) from exc
        try:
            result = await self._download(formats)
        except BaseException as exc:
            if not _resumable(exc):
                self._clean()
            raise
        self._clean()
        return result

    def _archived_result(self, archived: tuple[str, int], formats: list[Format]) -> DownloadResult:
        key, size = archived
        _ProgressSum(self.item, 0, self.ctx).emit("finished", size)
        return self._result(key, formats, duplicate_of=key, size=size)

    async def _download(self, formats: list[Format]) -> DownloadResult:
        progress = _ProgressSum(self.item, len(formats), self.ctx)
        files = [await self._fetch(fmt, n, progress) for n, fmt in enumerate(formats)]
        progress.emit("postprocessing")
        final = await self._postprocess(files, formats)
        size = final.stat().st_size
        digest = self._known_digest(final) or await sha256_file(final)
        same = await self._stored_with_hash(digest)
        if same is not None:
            await self._record(digest, same, size)
            progress.emit("finished", size)
            return self._result(same, formats, duplicate_of=same, size=size, sha256=digest)
        ext = final.suffix.lstrip(".")
        key = render_template(self.template, fields_for(self.item, ext=ext))
        stored = await self.ctx.storage.put(final, key)
        extra_keys = await self._store_extras(stored.key, ext)
        await self._record(digest, stored.key, size)
        progress.emit("finished", size)
        return self._result(
            stored.key, formats, size=size, sha256=digest, extra_paths=tuple(extra_keys)
        )

    # steps ---------------------------------------------------------------------------

    async def _archived(self) -> tuple[str, int] | None:
        """The key and size of this item's stored file, when it is archived already."""
        if self.ctx.dedupe is None:
            return None
        key = await self.ctx.dedupe.find_item(self.item.platform, archive_id(self.item))
        if key is None:
            return None
        try:
            return key, await self.ctx.storage.size(key)
        except errors.NotFoundError:
            return None  # recorded, but the file is gone: download it again

    async def _stored_with_hash(self, digest: str) -> str | None:
        if self.ctx.dedupe is None:
            return None
        key = await self.ctx.dedupe.find_hash(digest)
        if key is not None and await self.ctx.storage.exists(key):
            return key
        return None

    async def _fetch(self, fmt: Format, index: int, progress: _ProgressSum) -> Path:
        dest = self.work / f"f{index}-{sanitize_component(fmt.format_id)}.{fmt.ext or 'bin'}"
        result = await fetch(
            fmt,
            dest,
            session=self.ctx.session,
            settings=self.settings,
            on_progress=progress.for_part(index),
            cancel=self.ctx.cancel,
            connections=self.options.connections,
            item_id=self.item.id,
            page_url=self.item.url,
        )
        if result.sha256 is not None:
            info = result.path.stat()
            self.digests[result.path] = (info.st_size, info.st_mtime_ns, result.sha256)
        return result.path

    def _known_digest(self, path: Path) -> str | None:
        """The sha256 computed during the fetch, if ``path`` is that file unchanged."""
        known = self.digests.get(path)
        if known is None:
            return None
        info = path.stat()
        return known[2] if (info.st_size, info.st_mtime_ns) == known[:2] else None

    async def _postprocess(self, files: list[Path], formats: list[Format]) -> Path:
        s, c = self.settings, self.ctx.cancel
        container = self.options.container
        if len(files) == 2:
            ext = merge_container(formats[0].ext, formats[1].ext, container)
            media = await merge(
                files[0], files[1], self.work / f"merged.{ext}", settings=s, cancel=c
            )
        else:
            media = files[0]
            if container and media.suffix.lstrip(".").lower() != container and not self.audio_only:
                media = await remux(media, self.work / f"remuxed.{container}", settings=s, cancel=c)
        not_media = errors.NoMediaError(
            f"{self.item.url} did not give playable media", detail={"url": self.item.url}
        )
        try:
            info = await probe(media, settings=s, cancel=c)
        except errors.FFmpegMissingError:
            raise
        except errors.PostProcessError as exc:
            raise not_media from exc
        if not (info.has_video or info.has_audio):
            raise not_media
        if self.audio_only:
            media = await self._audio(media, info.has_video, [s.codec_name for s in info.streams])
        media = await self._subtitles(media)
        media = await self._thumbnail(media)
        ext = media.suffix.lstrip(".")
        wanted = self.options.embed_metadata and has_own_metadata(self.item)
        if wanted and supports_metadata(ext):
            tags = metadata_for(self.item)
            media = await embed_metadata(
                media, tags, self.work / f"tagged.{ext}", settings=s, cancel=c
            )
        return media

    async def _audio(self, media: Path, has_video: bool, codecs: list[str | None]) -> Path:
        wanted = self.options.audio_format
        if wanted is None and not has_video and self.options.audio_bitrate is None:
            return media  # already audio only, no conversion asked for
        if wanted is None:
            wanted = next((_AUDIO_BY_CODEC[c] for c in codecs if c in _AUDIO_BY_CODEC), None)
        return await extract_audio(
            media,
            self.work / "audio",
            audio_format=wanted or AudioFormat.M4A,
            bitrate=self.options.audio_bitrate,
            settings=self.settings,
            cancel=self.ctx.cancel,
        )

    async def _subtitles(self, media: Path) -> Path:
        if not self.options.subtitles:
            return media
        tracks: list[tuple[Path, str]] = []
        for sub in choose_subtitles(self.item, self.options.subtitles):
            path = await fetch_to(self.ctx.session, sub.url, self.work, f"sub.{sub.lang}.{sub.ext}")
            if self.options.subtitle_format:
                path = await convert_subtitle(
                    path,
                    self.options.subtitle_format,
                    settings=self.settings,
                    cancel=self.ctx.cancel,
                )
            tracks.append((path, sub.lang))
        ext = media.suffix.lstrip(".")
        if tracks and self.options.embed_subtitles and can_embed_subtitles(ext):
            return await embed_subtitles(
                media, tracks, self.work / f"subbed.{ext}", settings=self.settings,
                cancel=self.ctx.cancel,
            )  # fmt: skip
        self.extras += [(path, f".{lang}{path.suffix}") for path, lang in tracks]
        return media

    async def _thumbnail(self, media: Path) -> Path:
        options = self.options
        thumb = (
            choose_thumbnail(self.item) if (options.thumbnail or options.embed_thumbnail) else None
        )
        if thumb is None:
            return media
        suffix = Path(thumb.url.split("?", 1)[0]).suffix.lower() or ".jpg"
        path = await fetch_to(self.ctx.session, thumb.url, self.work, f"thumb{suffix[:6]}")
        path = await to_jpeg(path, settings=self.settings, cancel=self.ctx.cancel)
        ext = media.suffix.lstrip(".")
        embedded = options.embed_thumbnail and can_embed_thumbnail(ext)
        if embedded:
            media = await embed_thumbnail(
                media, path, self.work / f"cover.{ext}", settings=self.settings,
                cancel=self.ctx.cancel,
            )  # fmt: skip
        if options.thumbnail or not embedded:
            self.extras.append((path, ".jpg"))
        return media

    async def _store_extras(self, key: str, ext: str) -> list[str]:
        stem = key[: -len(ext) - 1] if ext and key.endswith("." + ext) else key
        stored = []
        for path, suffix in self.extras:
            stored.append((await self.ctx.storage.put(path, stem + suffix)).key)
        return stored

    async def _record(self, digest: str, key: str, size: int) -> None:
        if self.ctx.dedupe is None:
            return
        meta = {
            "title": self.item.title,
            "uploader": self.item.uploader,
            "upload_date": self.item.upload_date,
            "duration": self.item.duration,
            "url": self.item.url,
        }
        await self.ctx.dedupe.record(
            self.item.platform, archive_id(self.item), digest, key, size, meta
        )

    def _result(
        self,
        key: str,
        formats: list[Format],
        *,
        duplicate_of: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
        extra_paths: tuple[str, ...] = (),
    ) -> DownloadResult:
        return DownloadResult(
            platform=self.item.platform,
            item_id=self.item.id,
            title=self.item.title,
            status=ItemStatus.COMPLETED,
            path=key,
            extra_paths=extra_paths,
            format_id="+".join(fmt.format_id for fmt in formats),
            size=size,
            sha256=sha256,
            duplicate_of=duplicate_of,
            message="already archived" if duplicate_of else None,
            url=self.item.url,
        )

    def _clean(self) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self.work)


def _resumable(exc: BaseException) -> bool:
    """Whether to keep the work files so the next run resumes."""
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | errors.CancelledError_):
        return True
    return isinstance(exc, errors.NetworkError) and errors.is_retryable(exc)
