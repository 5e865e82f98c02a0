"""``/download``: create a download job, its status, logs, cancel, and the stored file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.errors import ErrorBody
from mediavault.api.files import serve_job_file
from mediavault.api.jobs import cancel_job, job_status, owned_job, submit_job
from mediavault.api.schemas.jobs import DownloadCreate, JobLogPublic, JobLogs, JobPublic, job_public
from mediavault.models import JobKind

router = APIRouter(prefix="/download", tags=["download"])


@router.post(
    "",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a download of one URL",
)
async def create_download(
    body: DownloadCreate, user: CurrentUser, services: ServicesDep
) -> JobPublic:
    job = await submit_job(services, user, JobKind.DOWNLOAD, body, url=body.url)
    return job_public(job)


@router.get("/{job_id}", response_model=JobPublic, summary="Status and progress of a job")
async def get_download(job_id: str, user: CurrentUser, services: ServicesDep) -> JobPublic:
    return await job_status(services, user, job_id)


@router.get("/{job_id}/logs", response_model=JobLogs, summary="Log lines of a job")
async def get_logs(
    job_id: str,
    user: CurrentUser,
    services: ServicesDep,
    after_id: int = Query(0, ge=0, le=2**62, description="only lines after this id"),
    limit: int = Query(1000, ge=1, le=10_000),
) -> JobLogs:
    job = await owned_job(services, user, job_id)
    rows = await services.jobs.store.logs(job.id, after_id=after_id, limit=limit)
    return JobLogs(job_id=job.id, logs=[JobLogPublic.model_validate(row) for row in rows])


@router.delete(
    "/{job_id}",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a job (and its children); running transfers stop promptly",
)
async def cancel_download(job_id: str, user: CurrentUser, services: ServicesDep) -> JobPublic:
    return await cancel_job(services, user, await owned_job(services, user, job_id))


@router.get(
    "/{job_id}/file",
    summary="A stored file of a completed download (supports Range)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        206: {
            "description": "partial content",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        416: {"model": ErrorBody},
    },
)
async def get_file(
    job_id: str,
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    index: Annotated[
        int,
        Query(ge=0, le=1_000_000, description="which stored file (`file_urls`); 0 = the main one"),
    ] = 0,
) -> Response:
    job = await owned_job(services, user, job_id)
    return await serve_job_file(
        services, job, range_header, index, head=request.method == "HEAD"
    )
