"""Webhook registrations and their delivery log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mediavault.api.urls import MAX_URL_LENGTH
from mediavault.models import EventType

__all__ = ["DeliveryPublic", "SigningSecret", "WebhookCreate", "WebhookCreated", "WebhookPublic"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=MAX_URL_LENGTH, description="http(s) receiver")
    events: list[EventType] = Field(
        default_factory=list, max_length=16, description="empty: every event but job.progress"
    )
    secret: str | None = Field(
        default=None, min_length=16, max_length=256, description="HMAC key; generated if absent"
    )


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[EventType]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="HMAC-SHA256 key of X-Mediavault-Signature; shown once")


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    webhook_id: str | None
    target_url: str
    job_id: str | None
    event_type: str
    attempt: int
    status: str
    status_code: int | None
    error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class SigningSecret(BaseModel):
    secret: str = Field(description="HMAC key for deliveries to a job's own webhook_url")
