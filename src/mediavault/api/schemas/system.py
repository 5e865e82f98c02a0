"""Health and statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["CheckPublic", "HealthPublic", "StatsPublic"]


class CheckPublic(BaseModel):
    ok: bool
    ms: float
    detail: str | None = None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, CheckPublic] = Field(description="database, queue, storage, ffmpeg")


class StatsPublic(BaseModel):
    scope: Literal["user", "all"]
    jobs_total: int
    jobs_by_status: dict[str, int]
    jobs_by_kind: dict[str, int]
    success_rate: float | None = Field(description="completed / (completed + failed)")
    average_duration_seconds: float | None
    queue_depth: int
    running: int
    downloaded_bytes: int
    storage_bytes: int
    media_files: int
