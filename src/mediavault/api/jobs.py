"""Job helpers shared by the job routes: ownership checks, status reads and submission.

``job_status`` answers from the in-memory ``JobView`` when it can (a polled job costs no
database read), else reads the database and keeps the answer there.

Submission checks, in order: the URL(s) against the SSRF guard and domain lists, the
job's ``webhook_url`` likewise, the cookie set belongs to the caller, a repeated
idempotency key returns the existing job, then the caller's quotas; then the job is
committed and dispatched by the ``JobService``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from mediavault import accounts
from mediavault.api.schemas.jobs import JobPublic, OptionsIn, job_public
from mediavault.api.state import Services
from mediavault.api.urls import check_input_url
from mediavault.errors import NotFoundError
from mediavault.jobs.tables import Job, User
from mediavault.models import JobKind

__all__ = ["cancel_job", "job_status", "owned_job", "submit_job"]


async def owned_job(
    services: Services, user: User, job_id: str, *, kind: JobKind | None = None
) -> Job:
    """The job if the caller owns it (admins: any job); 404 otherwise, never 403."""
    job = await services.jobs.get(job_id, user)
    if kind is not None and job.kind != kind:
        raise NotFoundError(f"no {kind.value} job {job_id!r}")
    return job


async def job_status(services: Services, user: User, job_id: str) -> JobPublic:
    """``owned_job`` as the API shows it, from the job view while it follows the events."""
    view = services.job_view
    if not view.enabled:
        return job_public(await owned_job(services, user, job_id))
    snap = await view.read(job_id)
    if snap is None or not (user.role == "admin" or snap.owner == user.id):
        raise NotFoundError(f"no job {job_id!r}")  # as JobService.get: no existence leak
    return snap.public


async def cancel_job(services: Services, user: User, job: Job) -> JobPublic:
    """Cancel ``job`` (the caller's) and its descendants. A running job's cancel flag
    publishes no event, so the job view forgets everything it holds."""
    try:
        return job_public(await services.jobs.cancel(job.id, user))
    finally:
        services.job_view.forget_all()


def _check_owned(services: Services, user: User, body: OptionsIn) -> None:
    with services.db.sessionmaker() as session:
        if body.cookies_id is not None:
            accounts.load_cookies(services.settings, session, user.id, body.cookies_id)
        accounts.enforce_storage_quota(session, user)


async def submit_job(
    services: Services,
    user: User,
    kind: JobKind,
    body: OptionsIn,
    *,
    url: str | None,
    urls: list[str] | None = None,
    playlist_items: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Job:
    for target in [url] if url else urls or []:
        await check_input_url(services.settings, services.policy, target)
    if body.webhook_url is not None:
        await check_input_url(services.settings, services.policy, body.webhook_url)
    if body.idempotency_key is not None:
        existing = await services.jobs.store.find_idempotent(user.id, body.idempotency_key)
        if existing is not None:
            return existing
    await run_in_threadpool(_check_owned, services, user, body)
    extra = dict(payload or {})
    if body.cookies_id is not None:
        extra["cookies_id"] = body.cookies_id
    options = body.to_options(playlist_items=playlist_items).model_dump(
        mode="json", exclude_defaults=True
    )
    return await services.jobs.submit(
        kind,
        url,
        options,
        user,
        urls=urls,
        priority=body.priority,
        idempotency_key=body.idempotency_key,
        webhook_url=body.webhook_url,
        payload=extra or None,
    )
