"""``/jobs``: the caller's jobs, filtered and paginated (newest first)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.jobs import job_status
from mediavault.api.schemas.jobs import JobPage, JobPublic, job_public
from mediavault.errors import ForbiddenError, InputError
from mediavault.jobs.store import JobFilters
from mediavault.models import JobKind, JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=JobPage, summary="List jobs (filters, cursor pagination)")
async def list_jobs(
    user: CurrentUser,
    services: ServicesDep,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    parent_id: str | None = Query(None, max_length=32),
    subscription_id: str | None = Query(None, max_length=32),
    top_level: bool = Query(False, description="only jobs without a parent"),
    all_users: bool = Query(False, alias="all", description="admin: every user's jobs"),
    cursor: str | None = Query(
        None, max_length=128, description="next_cursor of the previous page"
    ),
    limit: int = Query(50, ge=1, le=500),
) -> JobPage:
    if all_users and user.role != "admin":
        raise ForbiddenError("admin role required to list every user's jobs")
    filters = JobFilters(
        user_id=None if all_users else user.id,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        parent_id=parent_id,
        subscription_id=subscription_id,
        top_level=top_level,
    )
    try:
        page = await services.jobs.store.list(filters, cursor=cursor, limit=limit)
    except ValueError as exc:  # a cursor we did not issue
        raise InputError("invalid cursor") from exc
    return JobPage(items=[job_public(job) for job in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobPublic, summary="One job of any kind")
async def get_job(job_id: str, user: CurrentUser, services: ServicesDep) -> JobPublic:
    return await job_status(services, user, job_id)
