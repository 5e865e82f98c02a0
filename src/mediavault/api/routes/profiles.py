"""``POST /profiles/scrape``: scrape a creator/profile and queue a download per new item.

The job's ``stage`` goes ``scraping`` -> ``downloading``; it completes when every queued
download has ended (counts on the job). Items already in the archive are not queued.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.schemas.jobs import JobPublic, job_public
from mediavault.models import DownloadOptions, JobKind
from mediavault.platforms.base import adapter_for

router = APIRouter(prefix="/profiles", tags=["profiles"])


class ProfileScrapeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=4000, description="profile / channel URL")
    options: DownloadOptions = Field(default_factory=DownloadOptions)
    max_items: int | None = Field(default=None, ge=1, le=100_000)


@router.post(
    "/scrape",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Scrape a profile: queue a download job for every item not archived yet",
)
async def scrape_profile(
    body: ProfileScrapeCreate, user: CurrentUser, services: ServicesDep
) -> JobPublic:
    adapter_for(body.url)  # unsupported URLs fail here, before a job exists
    job = await services.jobs.submit(
        JobKind.PROFILE_SCRAPE,
        body.url,
        body.options,
        user,
        payload={"max_items": body.max_items} if body.max_items else None,
    )
    return job_public(job)
