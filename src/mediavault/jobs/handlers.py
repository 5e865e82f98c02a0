"""Job handlers: what a worker runs for each job kind, and the context they get.

A handler is ``async def handler(ctx: JobContext) -> dict`` registered with
``@register_handler(kind)``. It returns the job's result (completed), raises
``SkippedError`` (skipped, ``detail`` becomes the result) or any ``MediavaultError``
(retried when retryable, failed otherwise). Expanding handlers create children with
``ctx.expand(...)`` page by page and end with ``ctx.wait_for_children()``.

Handlers watch ``ctx.cancel`` (set within a heartbeat of a cancel request; the worker
cancels the handler's task shortly after) and report progress with ``ctx.progress``
(thread-safe, throttled by the worker before it reaches the database and the bus).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediavault.errors import CancelledError_, JobError
from mediavault.jobs.tables import Job
from mediavault.models import JobKind, Progress

if TYPE_CHECKING:
    from mediavault.config import Settings
    from mediavault.jobs.engine import Engine

__all__ = [
    "Handler",
    "HandlerSpec",
    "JobContext",
    "handler_for",
    "load_handlers",
    "plain_kinds",
    "register_handler",
]

Handler = Callable[["JobContext"], Coroutine[Any, Any, dict[str, Any]]]

# Imported by every worker; a module that is not there (yet) is fine.
BUILTIN_HANDLER_MODULES = ("mediavault.jobs.kinds", "mediavault.subscriptions.handlers")


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    fn: Handler
    host_limited: bool  # counts against the per-host concurrency limit


_HANDLERS: dict[str, HandlerSpec] = {}


def register_handler(
    kind: JobKind | str, *, host_limited: bool = True
) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of ``kind`` (the last registration wins)."""

    def decorator(fn: Handler) -> Handler:
        _HANDLERS[str(kind)] = HandlerSpec(str(kind), fn, host_limited)
        return fn

    return decorator


def handler_for(kind: str) -> HandlerSpec:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise JobError(f"no handler for job kind {kind!r}") from None


def plain_kinds() -> frozenset[str]:
    """The registered kinds that are not host-limited (they never need a host slot)."""
    return frozenset(kind for kind, spec in _HANDLERS.items() if not spec.host_limited)


def load_handlers(settings: Settings) -> None:
    """Import the built-in handler modules and ``settings.job_handler_modules``."""
    for name in (*BUILTIN_HANDLER_MODULES, *settings.job_handler_modules):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name or name in settings.job_handler_modules:
                raise


class JobContext:
    """Everything a handler may use while it holds the job's lease."""

    def __init__(self, job: Job, token: str, engine: Engine) -> None:
        self.job = job
        self.token = token
        self.engine = engine
        self.settings = engine.settings
        self.store = engine.store
        self.cancel = asyncio.Event()
        self.waiting_for_children: int | None = None
        self._progress_lock = threading.Lock()
        self._latest: Progress | None = None
        self._items: dict[str, Progress] = {}
        self._floor = job.downloaded_bytes or 0  # what the job reported before: never less

    # progress and logs -----------------------------------------------------------------

    def progress(self, progress: Progress) -> None:
        """Record the newest progress (any thread); the worker flushes it ≤ 4 times/s.

        A job downloading several items reports their sum. ``downloaded_bytes`` never
        goes down within a job (a transfer that starts over holds at the count reached
        until it passes it again), so every consumer sees a monotonic count.
        """
        with self._progress_lock:
            self._items[progress.item_id] = progress
            self._latest = _job_progress(progress, list(self._items.values()), self._floor)
            self._floor = self._latest.downloaded_bytes

    def take_progress(self) -> Progress | None:
        with self._progress_lock:
            latest, self._latest = self._latest, None
            return latest

    async def flush_progress(self) -> None:
        """Write the newest progress now: a handler's last report (the final byte count)
        must reach the job before the worker records the outcome."""
        latest = self.take_progress()
        if latest is not None:
            await self.store.report_progress(self.job.id, self.token, latest)

    async def log(self, message: str, level: str = "info") -> None:
        await self.store.log(self.job.id, level, message)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise CancelledError_(f"job {self.job.id} was cancelled")

    async def update(self, **values: Any) -> None:
        """Set columns of this job (lease-checked): title, platform, expand_cursor…"""
        self.job = await self.store.update_leased(self.job.id, self.token, **values)

    # children --------------------------------------------------------------------------

    async def expand(
        self, specs: Sequence[dict[str, Any]], cursor: dict[str, Any] | None
    ) -> list[Job]:
        """Add one page of children and save the expansion ``cursor`` in one transaction.

        ``specs`` are dicts with ``url`` and optional ``kind`` (default download),
        ``options``, ``payload``, ``title``. Children are dispatched right after the
        commit; a crash in between is healed by the reaper (queued jobs get re-sent).
        """
        self.check_cancelled()
        children = await self.engine.add_children(self.job, self.token, specs, cursor)
        self.job = await self.store.get(self.job.id) or self.job
        await self.engine.send(children)
        return children

    async def spawn_child(
        self,
        kind: JobKind | str,
        *,
        url: str | None = None,
        options: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> Job:
        """Create and dispatch one child job (keeps the expansion cursor as it is)."""
        spec: dict[str, Any] = {"kind": str(kind), "url": url, "payload": payload, "title": title}
        if options is not None:
            spec["options"] = options
        children = await self.expand([spec], self.job.expand_cursor)
        return children[0]

    def wait_for_children(self, items_total: int) -> dict[str, Any]:
        """End the handler with this: the job completes when its children have all ended."""
        self.waiting_for_children = items_total
        return {"children": items_total}


def _job_progress(newest: Progress, items: list[Progress], floor: int) -> Progress:
    """The job's progress from the newest report and the latest one of every item."""
    done = sum(p.downloaded_bytes for p in items)
    totals = [p.total_bytes for p in items]
    total = None if any(t is None for t in totals) else sum(t for t in totals if t is not None)
    update: dict[str, Any] = {"downloaded_bytes": max(done, floor), "total_bytes": total}
    if len(items) > 1:
        speeds = [p.speed for p in items if p.speed and p.status == "downloading"]
        update["speed"] = sum(speeds) if speeds else None
        update["eta"] = None
    return newest.model_copy(update=update)
