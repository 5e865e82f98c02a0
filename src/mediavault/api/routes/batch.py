"""``/batch``: many URLs as one job with a child per URL; status and cancel."""

from __future__ import annotations

from fastapi import APIRouter, status

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.jobs import cancel_job, owned_job, submit_job
from mediavault.api.schemas.jobs import BatchCreate, BatchPublic, JobPublic, job_public
from mediavault.models import JobKind

router = APIRouter(prefix="/batch", tags=["batch"])

_CHILDREN_SHOWN = 500


@router.post(
    "/download",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a batch of URLs",
)
async def download(body: BatchCreate, user: CurrentUser, services: ServicesDep) -> JobPublic:
    job = await submit_job(services, user, JobKind.BATCH, body, url=None, urls=list(body.urls))
    return job_public(job)


@router.get("/{batch_id}", response_model=BatchPublic, summary="A batch and its children")
async def get_batch(batch_id: str, user: CurrentUser, services: ServicesDep) -> BatchPublic:
    job = await owned_job(services, user, batch_id, kind=JobKind.BATCH)
    page = await services.jobs.store.children(job.id, limit=_CHILDREN_SHOWN)
    counts = await services.jobs.store.counts_by_status(job.id)
    return BatchPublic(
        **job_public(job).model_dump(),
        children=[job_public(child) for child in page.items],
        children_by_status=counts,
    )


@router.delete(
    "/{batch_id}",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a batch and every unfinished child",
)
async def cancel_batch(batch_id: str, user: CurrentUser, services: ServicesDep) -> JobPublic:
    job = await owned_job(services, user, batch_id, kind=JobKind.BATCH)
    return await cancel_job(services, user, job)
