"""``/health``, ``/metrics`` (Prometheus text) and ``/stats``."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from mediavault.api.app import VERSION
from mediavault.api.deps import CurrentUser, ServicesDep, SessionDep
from mediavault.api.errors import ErrorBody
from mediavault.api.metrics import CONTENT_TYPE, job_duration_seconds
from mediavault.api.schemas.system import CheckPublic, HealthPublic, StatsPublic
from mediavault.api.state import Services
from mediavault.jobs.dispatch import dispatcher_for
from mediavault.jobs.tables import Job, MediaFile
from mediavault.models import JobStatus

router = APIRouter(tags=["system"])

_HEALTH_TIMEOUT = 5.0


async def _timed(name: str, check: Callable[[], Awaitable[str | None]]) -> tuple[str, CheckPublic]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_HEALTH_TIMEOUT):
            detail = await check()
        ok = True
    except Exception as exc:  # a failing dependency is reported, not raised
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return name, CheckPublic(
        ok=ok, ms=round((time.perf_counter() - started) * 1000, 2), detail=detail
    )


def _database(services: Services) -> Callable[[], Awaitable[str | None]]:
    def probe() -> str | None:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return services.db.engine.dialect.name

    return lambda: run_in_threadpool(probe)


def _queue(services: Services) -> Callable[[], Awaitable[str | None]]:
    def probe() -> str | None:
        dispatcher = dispatcher_for(services.settings)
        return f"{'redis' if dispatcher.is_redis else 'sqlite'}, {dispatcher.pending()} pending"

    return lambda: run_in_threadpool(probe)


def _storage(services: Services) -> Callable[[], Awaitable[str | None]]:
    async def probe() -> str | None:
        await services.storage.check_writable()
        return services.settings.effective_storage_url.split("://", 1)[0]

    return probe


def _ffmpeg(services: Services) -> Callable[[], Awaitable[str | None]]:
    async def probe() -> str | None:
        found = [shutil.which(services.settings.ffmpeg), shutil.which(services.settings.ffprobe)]
        if not all(found):
            raise FileNotFoundError("ffmpeg/ffprobe not found on PATH")
        return found[0]

    return probe


async def _probe(services: Services) -> tuple[bytes, int]:
    results = await asyncio.gather(
        _timed("database", _database(services)),
        _timed("queue", _queue(services)),
        _timed("storage", _storage(services)),
        _timed("ffmpeg", _ffmpeg(services)),
    )
    checks = dict(results)
    ok = all(check.ok for check in checks.values())
    body = HealthPublic(status="ok" if ok else "degraded", version=VERSION, checks=checks)
    return body.model_dump_json().encode(), 200 if ok else 503


async def _health(services: Services) -> tuple[bytes, int]:
    """The checks' outcome, refreshed at most every ``health_cache_seconds``: a load
    balancer or monitor polling many times a second shares one probe instead of each
    call writing to storage and querying the database. Once there is a result, callers
    never wait for a probe: a stale one is returned while a single refresh runs."""
    ttl = services.settings.health_cache_seconds
    if ttl <= 0:
        return await _probe(services)
    state = services.health
    if state.result is None:  # the first call waits (and its concurrent callers with it)
        async with state.lock:
            if state.result is None:
                await _refresh(services, ttl)
    elif time.monotonic() >= state.expires and state.refreshing is None:
        state.refreshing = asyncio.create_task(_refresh(services, ttl))
    assert state.result is not None
    return state.result


async def _refresh(services: Services, ttl: float) -> None:
    state = services.health
    try:
        state.result = await _probe(services)
        state.expires = time.monotonic() + ttl
    finally:
        state.refreshing = None


@router.get(
    "/health",
    response_model=HealthPublic,
    summary="Database, queue, storage and ffmpeg checks (503 when one fails)",
    description="Probes run at most every `MEDIAVAULT_HEALTH_CACHE_SECONDS` (default 1 s).",
    responses={503: {"model": HealthPublic, "description": "a dependency is down"}},
)
async def health(services: ServicesDep) -> Response:
    body, status = await _health(services)
    return Response(body, status_code=status, media_type="application/json")


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}},
        500: {"model": ErrorBody},
    },
)
def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)


@router.get(
    "/stats", response_model=StatsPublic, summary="Counts, success rate, durations, storage"
)
def stats(user: CurrentUser, session: SessionDep) -> StatsPublic:
    everyone = user.role == "admin"
    mine = [] if everyone else [Job.user_id == user.id]
    rows = session.execute(
        select(Job.kind, Job.status, func.count()).where(*mine).group_by(Job.kind, Job.status)
    ).all()
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for kind, status, count in rows:
        by_status[status] = by_status.get(status, 0) + int(count)
        by_kind[kind] = by_kind.get(kind, 0) + int(count)
    done, failed = by_status.get(JobStatus.COMPLETED, 0), by_status.get(JobStatus.FAILED, 0)
    duration = job_duration_seconds(session.get_bind().dialect.name)
    average = session.scalar(
        select(func.avg(duration)).where(
            *mine, Job.started_at.is_not(None), Job.finished_at.is_not(None)
        )
    )
    downloaded = session.scalar(
        select(func.coalesce(func.sum(Job.downloaded_bytes), 0)).where(
            *mine, Job.status == JobStatus.COMPLETED, Job.kind == "download"
        )
    )
    media_filter = [] if everyone else [MediaFile.user_id == user.id]
    files, stored = session.execute(
        select(func.count(), func.coalesce(func.sum(MediaFile.size), 0)).where(*media_filter)
    ).one()
    return StatsPublic(
        scope="all" if everyone else "user",
        jobs_total=sum(by_status.values()),
        jobs_by_status=by_status,
        jobs_by_kind=by_kind,
        success_rate=round(done / (done + failed), 4) if done + failed else None,
        average_duration_seconds=round(float(average), 3) if average is not None else None,
        queue_depth=by_status.get(JobStatus.QUEUED, 0),
        running=by_status.get(JobStatus.RUNNING, 0),
        downloaded_bytes=int(downloaded or 0),
        storage_bytes=int(stored),
        media_files=int(files),
    )
