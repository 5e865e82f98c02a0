"""The built-in job kinds: download, and the expanding playlist / channel / batch.

A download job downloads its URL (or the resolved item/entry its parent stored in
``payload``) with ``mediavault.Client`` into the configured storage, deduplicated per
user. Expanding jobs page through ``Client.entries`` (or the batch's URLs) creating
child download jobs page by page; the cursor saved with each page makes expansion
resumable after a crash without duplicating children, and cancellable between entries.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select

from mediavault.errors import InputError, SkippedError, error_for_code
from mediavault.filters import EntryFilters, matches
from mediavault.jobs.handlers import JobContext, register_handler
from mediavault.jobs.tables import Credential
from mediavault.models import (
    CollectionEntry,
    DownloadOptions,
    DownloadResult,
    ItemStatus,
    JobKind,
    MediaItem,
)

if TYPE_CHECKING:
    from mediavault.client import Client

__all__ = ["parse_items", "summarize"]

PAGE = 50


def parse_items(spec: str | None) -> set[int] | None:
    """``"1-3,7"`` -> {1, 2, 3, 7} (1-based playlist indexes); None = everything."""
    if not spec:
        return None
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        start, sep, end = part.partition("-")
        if not start.isdigit() or (sep and not end.isdigit()):
            raise InputError(f"invalid playlist_items {spec!r}; use e.g. 1-10,15")
        first, last = int(start), int(end) if sep else int(start)
        if last < first or last - first > 100_000:
            raise InputError(f"invalid range {part!r} in playlist_items")
        out.update(range(first, last + 1))
    return out


def summarize(results: list[DownloadResult]) -> dict[str, Any]:
    """A job result from the item results; raises when nothing was stored."""
    body: dict[str, Any] = {
        "items": [r.model_dump(mode="json", exclude_none=True) for r in results],
        "paths": [r.path or r.duplicate_of for r in results if r.status == ItemStatus.COMPLETED],
    }
    failed = [r for r in results if r.status == ItemStatus.FAILED]
    skipped = [r for r in results if r.status == ItemStatus.SKIPPED]
    if results and len(failed) == len(results):
        first = failed[0]
        raise error_for_code(first.reason or "internal_error")(first.message or "download failed")
    if results and len(skipped) == len(results):
        first = skipped[0]
        error = error_for_code(first.reason or "skipped")
        if not issubclass(error, SkippedError):
            error = SkippedError
        raise error(first.message or f"skipped: {first.reason}", detail=body)
    return body


async def _credentials(ctx: JobContext) -> dict[str, Any]:
    """The user's platform credentials (decrypted) for the adapters."""
    from mediavault import crypto

    stmt = select(Credential).where(
        Credential.user_id == ctx.job.user_id, Credential.kind == "platform"
    )
    rows = await ctx.store.run(ctx.store.read, lambda s: list(s.scalars(stmt)))
    out: dict[str, Any] = {}
    for row in rows:
        with contextlib.suppress(Exception):  # a credential that no longer decrypts: skip it
            out[row.platform] = json.loads(crypto.decrypt(ctx.settings, row.data_enc))
    return out


async def _cookies_file(ctx: JobContext, work_dir: Path) -> str | None:
    cookies_id = (ctx.job.payload or {}).get("cookies_id")
    if not cookies_id:
        return None
    from mediavault import accounts

    def load(session: Any) -> str:
        return accounts.load_cookies(ctx.settings, session, ctx.job.user_id, str(cookies_id))

    text = await ctx.store.run(ctx.store.read, load)
    path = work_dir / "cookies.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(text)
    return str(path)


@contextlib.asynccontextmanager
async def job_client(ctx: JobContext) -> AsyncIterator[Client]:
    """A ``Client`` for this job: shared storage, the user's dedupe index and secrets."""
    from mediavault.client import Client
    from mediavault.storage import SqlDedupeIndex

    work_dir = Path(ctx.settings.data_dir) / "work" / ctx.job.id
    dedupe = SqlDedupeIndex(ctx.engine.database.write_sessionmaker, ctx.job.user_id)
    client = Client(
        ctx.settings,
        storage=ctx.engine.storage,
        dedupe=dedupe,
        cookies_file=await _cookies_file(ctx, work_dir),
        credentials=await _credentials(ctx),
    )
    async with client:
        yield client


@register_handler(JobKind.DOWNLOAD)
async def download(ctx: JobContext) -> dict[str, Any]:
    options = DownloadOptions.model_validate(ctx.job.options or {})
    payload = ctx.job.payload or {}
    async with job_client(ctx) as client:
        kwargs: dict[str, Any] = {"on_progress": ctx.progress, "cancel": ctx.cancel}
        if "item" in payload:
            item = MediaItem.model_validate(payload["item"])
            results = [await client.download_entry(item, options, **kwargs)]
        elif "entry" in payload:
            entry = CollectionEntry.model_validate(payload["entry"])
            results = [await client.download_entry(entry, options, **kwargs)]
        elif ctx.job.url:
            results = await client.download(ctx.job.url, options, **kwargs)
        else:
            raise InputError("a download job needs a url")
    await ctx.flush_progress()  # the final byte count, before the job completes
    if results and not ctx.job.title:
        await ctx.update(title=results[0].title, platform=results[0].platform)
    return summarize(results)


def _child_spec(entry: MediaItem | CollectionEntry) -> dict[str, Any]:
    key = "item" if isinstance(entry, MediaItem) else "entry"
    return {
        "kind": JobKind.DOWNLOAD.value,
        "url": entry.url,
        "title": entry.title,
        "payload": {key: entry.model_dump(mode="json")},
    }


async def expand_collection(ctx: JobContext) -> dict[str, Any]:
    """Playlist and channel jobs: one child download job per (selected) entry.

    ``options.playlist_items`` picks by position among all entries; then the filters in
    ``payload["filters"]`` (``mediavault.filters.EntryFilters``: dates, duration, views,
    ``max_items``, ``strict``) decide, so an entry whose metadata does not tell is taken
    unless ``strict``. The count taken is part of the saved cursor, so ``max_items``
    holds across a resumed expansion.
    """
    if not ctx.job.url:
        raise InputError(f"a {ctx.job.kind} job needs a url")
    options = DownloadOptions.model_validate(ctx.job.options or {})
    wanted = parse_items(options.playlist_items)
    last_wanted = max(wanted) if wanted else None
    filters = _filters(ctx)
    state = dict(ctx.job.expand_cursor or {})
    index = int(state.get("index", 0))
    taken = int(state.get("taken", 0))
    page: list[dict[str, Any]] = []
    async with job_client(ctx) as client:
        async for entry, cursor in client.entries(ctx.job.url, state.get("adapter")):
            ctx.check_cancelled()
            index += 1
            if (wanted is None or index in wanted) and matches(entry, filters):
                page.append(_child_spec(entry))
                taken += 1
            state = {"index": index, "adapter": cursor, "taken": taken}
            if len(page) >= PAGE:
                await ctx.expand(page, state)
                page = []
            if (last_wanted is not None and index >= last_wanted) or (
                filters.max_items is not None and taken >= filters.max_items
            ):
                break
    if page or state != (ctx.job.expand_cursor or {}):
        await ctx.expand(page, state)
    return ctx.wait_for_children(ctx.job.items_total or 0)


def _filters(ctx: JobContext) -> EntryFilters:
    raw = (ctx.job.payload or {}).get("filters") or {}
    try:
        return EntryFilters.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"invalid channel filters: {exc.errors()[0]['msg']}") from exc


register_handler(JobKind.PLAYLIST, host_limited=False)(expand_collection)
register_handler(JobKind.CHANNEL, host_limited=False)(expand_collection)


@register_handler(JobKind.BATCH, host_limited=False)
async def expand_batch(ctx: JobContext) -> dict[str, Any]:
    """A batch: one child download job per URL, in pages (resumable)."""
    urls = list((ctx.job.payload or {}).get("urls") or [])
    if not urls:
        raise InputError("a batch job needs urls")
    offset = int((ctx.job.expand_cursor or {}).get("offset", 0))
    while offset < len(urls):
        ctx.check_cancelled()
        chunk = urls[offset : offset + PAGE]
        offset += len(chunk)
        specs = [{"kind": JobKind.DOWNLOAD.value, "url": url} for url in chunk]
        await ctx.expand(specs, {"offset": offset})
    return ctx.wait_for_children(len(urls))
