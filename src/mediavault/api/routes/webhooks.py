"""``/webhooks``: register receivers, list them, delete them, read their delivery log."""

from __future__ import annotations

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from mediavault.api.deps import CurrentUser, ServicesDep, SessionDep, WriteSessionDep
from mediavault.api.schemas.webhooks import (
    DeliveryPublic,
    SigningSecret,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from mediavault.api.urls import check_input_url
from mediavault.jobs import webhooks
from mediavault.jobs.tables import Webhook, WebhookDelivery

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=list[WebhookPublic], summary="List the caller's webhooks")
def list_webhooks(user: CurrentUser, session: SessionDep) -> list[Webhook]:
    query = select(Webhook).where(Webhook.user_id == user.id).order_by(Webhook.created_at)
    return list(session.scalars(query))


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook (the secret is shown only here)",
)
async def create_webhook(
    body: WebhookCreate, user: CurrentUser, session: WriteSessionDep, services: ServicesDep
) -> WebhookCreated:
    await check_input_url(services.settings, services.policy, body.url)
    hook, secret = await run_in_threadpool(
        webhooks.create_webhook,
        services.settings,
        session,
        user,
        body.url,
        events=[e.value for e in body.events],
        secret=body.secret,
    )
    return WebhookCreated.model_validate(
        {**WebhookPublic.model_validate(hook).model_dump(), "secret": secret}
    )


@router.get(
    "/signing-secret",
    response_model=SigningSecret,
    summary="Key that signs deliveries to a job's webhook_url",
)
def signing_secret(user: CurrentUser, services: ServicesDep) -> SigningSecret:
    return SigningSecret(secret=webhooks.user_signing_secret(services.settings, user.id))


@router.get("/{webhook_id}", response_model=WebhookPublic, summary="One webhook")
def get_webhook(webhook_id: str, user: CurrentUser, session: SessionDep) -> Webhook:
    return webhooks.owned_webhook(session, user, webhook_id)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook")
def delete_webhook(webhook_id: str, user: CurrentUser, session: WriteSessionDep) -> None:
    webhooks.delete_webhook(session, user, webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=list[DeliveryPublic],
    summary="Delivery log, newest first",
)
def deliveries(
    webhook_id: str,
    user: CurrentUser,
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
) -> list[WebhookDelivery]:
    hook = webhooks.owned_webhook(session, user, webhook_id)
    return webhooks.list_deliveries(session, hook, limit=limit)
