"""``/subscriptions``: CRUD of a user's subscriptions and ``POST /{id}/sync`` (a sync job)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from mediavault.api.deps import CurrentUser, ServicesDep
from mediavault.api.schemas.jobs import JobPublic, job_public
from mediavault.jobs.tables import Subscription, User
from mediavault.models import JobKind
from mediavault.platforms.base import fetches_url
from mediavault.subscriptions.schemas import (
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from mediavault.subscriptions.store import SubscriptionStore

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])


def _owner(user: User) -> str | None:
    """Whose subscriptions the caller may see: admins all, others their own."""
    return None if user.role == "admin" else user.id


def public(row: Subscription) -> SubscriptionPublic:
    state = row.state or {}
    backfill = state.get("backfill")
    return SubscriptionPublic(
        id=row.id,
        url=row.url,
        platform=row.platform,
        name=row.name,
        options=row.options or {},
        filters=row.filters or {},
        mode=row.mode,
        max_items=row.max_items,
        interval_seconds=row.interval_seconds,
        enabled=row.enabled,
        next_sync_at=row.next_sync_at,
        last_sync_at=row.last_sync_at,
        last_result=state.get("last_result"),
        backfill_done=backfill.get("done") if isinstance(backfill, dict) else None,
        created_at=row.created_at,
    )


@router.post(
    "",
    response_model=SubscriptionPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to a channel, playlist, feed or creator profile",
)
async def create_subscription(
    body: SubscriptionCreate, user: CurrentUser, services: ServicesDep
) -> SubscriptionPublic:
    if fetches_url(body.url):  # native adapters only call their configured API base
        await services.policy.check_url(body.url)
    row = await SubscriptionStore.of(services.db).create(user.id, body)
    return public(row)


@router.get("", response_model=list[SubscriptionPublic], summary="List subscriptions")
async def list_subscriptions(user: CurrentUser, services: ServicesDep) -> list[SubscriptionPublic]:
    rows = await SubscriptionStore.of(services.db).list(_owner(user))
    return [public(row) for row in rows]


@router.get("/{sub_id}", response_model=SubscriptionPublic, summary="One subscription")
async def get_subscription(
    sub_id: str, user: CurrentUser, services: ServicesDep
) -> SubscriptionPublic:
    return public(await SubscriptionStore.of(services.db).get(sub_id, _owner(user)))


@router.patch("/{sub_id}", response_model=SubscriptionPublic, summary="Change a subscription")
async def update_subscription(
    sub_id: str, body: SubscriptionUpdate, user: CurrentUser, services: ServicesDep
) -> SubscriptionPublic:
    return public(await SubscriptionStore.of(services.db).update(sub_id, body, _owner(user)))


@router.delete("/{sub_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a subscription")
async def delete_subscription(sub_id: str, user: CurrentUser, services: ServicesDep) -> Response:
    await SubscriptionStore.of(services.db).delete(sub_id, _owner(user))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{sub_id}/sync",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Sync now: queue a subscription_sync job",
)
async def sync_subscription(sub_id: str, user: CurrentUser, services: ServicesDep) -> JobPublic:
    row = await SubscriptionStore.of(services.db).get(sub_id, _owner(user))
    job = await services.jobs.submit(
        JobKind.SUBSCRIPTION_SYNC,
        row.url,
        row.options or {},
        row.user_id,
        subscription_id=row.id,
        title=row.name or row.url,
    )
    return job_public(job)
