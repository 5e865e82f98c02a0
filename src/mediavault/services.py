"""``JobService``: the façade the API (and CLI, bots) use to submit and manage jobs.

    service = JobService(settings, database)
    job = await service.submit(JobKind.DOWNLOAD, url, DownloadOptions(), user)
    await service.cancel(job.id, user)

``submit`` validates (URL guard, quotas), commits the row, then sends the id to the
queue; if sending fails the row is still there and the reaper sends it. Access checks:
a user sees and cancels their own jobs; admins (and ``user=None``, internal callers)
see all. ``run_embedded_worker`` runs a worker inside the calling process.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from mediavault.config import Settings
from mediavault.errors import InputError, NotFoundError, QuotaExceededError
from mediavault.jobs.db import Database
from mediavault.jobs.engine import Engine
from mediavault.jobs.events import EventBus
from mediavault.jobs.handlers import _HANDLERS, load_handlers
from mediavault.jobs.store import JobFilters, JobPage, JobStore
from mediavault.jobs.tables import Job, JobLog, User, utcnow
from mediavault.models import DownloadOptions, JobKind, JobStatus

__all__ = ["JobService", "run_embedded_worker"]

log = logging.getLogger("mediavault.services")

_URL_KINDS = {JobKind.DOWNLOAD, JobKind.PLAYLIST, JobKind.CHANNEL, JobKind.PROFILE_SCRAPE}
MAX_BATCH_URLS = 10_000


def _user_id(user: User | str | None) -> str | None:
    return user.id if isinstance(user, User) else user


def _is_admin(user: User | str | None) -> bool:
    return user is None or (isinstance(user, User) and user.role == "admin")


class JobService:
    def __init__(
        self, settings: Settings, database: Database | None = None, *, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine or Engine(settings, database or Database(settings))
        self.store: JobStore = self.engine.store
        self.bus: EventBus = self.engine.events
        load_handlers(settings)

    async def submit(
        self,
        kind: JobKind | str,
        url: str | None = None,
        options: DownloadOptions | dict[str, Any] | None = None,
        user: User | str | None = None,
        *,
        urls: Sequence[str] | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
        subscription_id: str | None = None,
        max_attempts: int | None = None,
        payload: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> Job:
        """Validate, commit a queued job, then dispatch it. ``urls`` is for batch jobs."""
        kind = self._check_kind(kind)
        user_id = _user_id(user)
        if idempotency_key is not None:
            existing = await self.store.find_idempotent(user_id, idempotency_key)
            if existing is not None:
                return existing
        opts = self._options(options)
        if isinstance(user, User) and opts.get("cookies_file"):
            raise InputError(
                "cookies_file names a path on the server; upload cookies and pass cookies_id"
            )
        payload = dict(payload or {})
        if kind == JobKind.BATCH:
            payload["urls"] = await self._check_batch(urls, url)
            url = None
        elif kind in _URL_KINDS:
            if not url:
                raise InputError(f"a {kind} job needs a url")
            await self._check_url(url)
        if isinstance(user, User):
            await self._check_quota(user)
        job = await self.store.create(
            kind,
            url=url,
            options=opts,
            user_id=user_id,
            priority=priority,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            subscription_id=subscription_id,
            max_attempts=max_attempts,
            payload=payload or None,
            title=title,
        )
        try:
            await self.engine.send([job])
        except Exception:  # the row is the truth: the reaper sends it when the queue is back
            log.exception("job %s: could not send to the queue now", job.id)
        return job

    def _check_kind(self, kind: JobKind | str) -> str:
        value = str(kind)
        if value not in {k.value for k in JobKind} and value not in _HANDLERS:
            raise InputError(f"unknown job kind {value!r}")
        return value

    @staticmethod
    def _options(options: DownloadOptions | dict[str, Any] | None) -> dict[str, Any]:
        if options is None:
            options = DownloadOptions()
        elif isinstance(options, dict):
            options = DownloadOptions.model_validate(options)
        return options.model_dump(mode="json", exclude_defaults=True)

    async def _check_url(self, url: str) -> None:
        from mediavault.net.guard import HostPolicy
        from mediavault.platforms.base import fetches_url

        if not fetches_url(url):  # a native adapter: it only calls its configured API base
            return
        await HostPolicy.from_settings(self.settings).check_url(url)

    async def _check_batch(self, urls: Sequence[str] | None, url: str | None) -> list[str]:
        items = [u.strip() for u in (urls or ([url] if url else [])) if u and u.strip()]
        if not items:
            raise InputError("a batch job needs at least one url")
        if len(items) > MAX_BATCH_URLS:
            raise InputError(f"a batch holds at most {MAX_BATCH_URLS} urls")
        await asyncio.gather(*(self._check_url(u) for u in dict.fromkeys(items)))
        return items

    async def _check_quota(self, user: User) -> None:
        if user.quota_concurrent_jobs is None and user.quota_daily_downloads is None:
            return
        open_jobs = select(func.count()).where(
            Job.user_id == user.id,
            Job.parent_id.is_(None),
            Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
        )
        today = select(func.count()).where(
            Job.user_id == user.id,
            Job.parent_id.is_(None),
            Job.created_at >= utcnow() - timedelta(days=1),
        )
        running, recent = await self.store.run(
            self.store.read, lambda s: (s.scalar(open_jobs) or 0, s.scalar(today) or 0)
        )
        if user.quota_concurrent_jobs is not None and running >= user.quota_concurrent_jobs:
            raise QuotaExceededError(
                f"at most {user.quota_concurrent_jobs} unfinished jobs at a time"
            )
        if user.quota_daily_downloads is not None and recent >= user.quota_daily_downloads:
            raise QuotaExceededError(f"at most {user.quota_daily_downloads} jobs per day")

    # reading -----------------------------------------------------------------------------

    async def get(self, job_id: str, user: User | str | None = None) -> Job:
        """The job, if ``user`` may see it (NotFoundError otherwise: no existence leak)."""
        job = await self.store.get(job_id)
        if job is None or not (_is_admin(user) or job.user_id == _user_id(user)):
            raise NotFoundError(f"no job {job_id!r}")
        return job

    async def list(
        self,
        user: User | str | None = None,
        filters: JobFilters | None = None,
        *,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobPage:
        filters = filters or JobFilters()
        if not _is_admin(user):
            filters = JobFilters(
                user_id=_user_id(user),
                status=filters.status,
                kind=filters.kind,
                parent_id=filters.parent_id,
                subscription_id=filters.subscription_id,
                top_level=filters.top_level,
            )
        return await self.store.list(filters, cursor=cursor, limit=max(1, min(limit, 500)))

    async def children(
        self, job_id: str, user: User | str | None = None, *, cursor: str | None = None,
        limit: int = 100,
    ) -> JobPage:
        await self.get(job_id, user)
        return await self.store.children(job_id, cursor=cursor, limit=max(1, min(limit, 500)))

    async def logs(
        self, job_id: str, user: User | str | None = None, *, after_id: int = 0,
        limit: int = 1000,
    ) -> builtins.list[JobLog]:
        await self.get(job_id, user)
        return await self.store.logs(job_id, after_id=after_id, limit=limit)

    # changing ----------------------------------------------------------------------------

    async def cancel(self, job_id: str, user: User | str | None = None) -> Job:
        """Cancel a job (and its children). Queued: cancelled now. Running: the worker's
        heartbeat sees the flag within ~1 s and stops. Final jobs are returned unchanged."""
        await self.get(job_id, user)
        job = await self.store.request_cancel(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        if job.status == JobStatus.CANCELLED.value:
            await self.store.log(job_id, "info", "cancelled before it ran")
        return job

    def close(self) -> None:
        self.engine.close()


async def run_embedded_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
    concurrency: int | None = None,
) -> None:
    """A worker (with reaper) in this process until ``stop`` is set (``mediavault serve``)."""
    from mediavault.jobs.worker import Worker

    own = engine is None
    engine = engine or Engine.open(settings)
    try:
        await Worker(engine, concurrency=concurrency).run(stop or asyncio.Event())
    finally:
        if own:
            engine.close()
