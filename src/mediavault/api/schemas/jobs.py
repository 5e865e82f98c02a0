"""Download, playlist, channel and batch requests; jobs as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mediavault.api.files import result_paths
from mediavault.api.urls import MAX_URL_LENGTH
from mediavault.errors import InvalidTemplateError
from mediavault.jobs.tables import Job
from mediavault.models import AudioFormat, DownloadOptions, JobKind, JobStatus

__all__ = [
    "BatchCreate",
    "BatchPublic",
    "ChannelCreate",
    "ChannelFilters",
    "DownloadCreate",
    "JobLogPublic",
    "JobLogs",
    "JobPage",
    "JobPublic",
    "PlaylistCreate",
    "job_public",
    "progress_public",
]

Url = Annotated[
    str, Field(min_length=8, max_length=MAX_URL_LENGTH, examples=["https://example.com/v/1"])
]
Quality = Literal[
    "best", "worst", "2160p", "1440p", "1080p", "720p", "480p", "360p", "240p", "144p", "audio"
]
Lang = Annotated[
    str, Field(min_length=2, max_length=16, pattern=r"^(all|[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*)$")
]
PLAYLIST_ITEMS = r"^\d{1,6}(-\d{1,6})?(,\d{1,6}(-\d{1,6})?){0,49}$"
DATE = r"^\d{8}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptionsIn(_In):
    """What to fetch and how to store it (shared by every download request)."""

    format: str = Field(
        default="best",
        min_length=1,
        max_length=200,
        description="best, worst, 1080p/720p/..., audio, or any yt-dlp format selector",
    )
    quality: Quality | None = Field(default=None, description="shortcut; overrides format")
    audio_only: bool = False
    audio_format: AudioFormat | None = None
    audio_bitrate: str | None = Field(
        default=None, pattern=r"^(9[6-9]|[1-2]\d\d|3[0-1]\d|320)k$", examples=["192k"]
    )
    container: Literal["mp4", "mkv", "webm", "mov"] | None = None
    subtitles: list[Lang] = Field(default_factory=list, max_length=20)
    subtitle_format: Literal["srt", "vtt", "ass"] | None = None
    embed_subtitles: bool = False
    thumbnail: bool = False
    embed_thumbnail: bool = False
    embed_metadata: bool = True
    template: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="storage path template, e.g. {uploader}/{title} [{id}].{ext}",
    )
    connections: int | None = Field(default=None, ge=1, le=64)
    cookies_id: str | None = Field(
        default=None, max_length=32, description="from POST /auth/cookies"
    )
    webhook_url: Url | None = Field(default=None, description="receives this job's events, signed")
    priority: int = Field(default=0, ge=-100, le=100, description="higher runs first")
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=128, description="same key: same job, not a new one"
    )

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            from mediavault.storage.templates import validate_template

            try:
                validate_template(value)
            except InvalidTemplateError as exc:
                raise ValueError(exc.message) from exc
        return value

    def to_options(self, *, playlist_items: str | None = None) -> DownloadOptions:
        audio_only = self.audio_only or self.quality == "audio"
        return DownloadOptions(
            format=self.quality or self.format,
            audio_only=audio_only,
            audio_format=self.audio_format,
            audio_bitrate=self.audio_bitrate,
            container=self.container,
            subtitles=tuple(self.subtitles),
            subtitle_format=self.subtitle_format,
            embed_subtitles=self.embed_subtitles,
            thumbnail=self.thumbnail,
            embed_thumbnail=self.embed_thumbnail,
            embed_metadata=self.embed_metadata,
            template=self.template,
            playlist_items=playlist_items,
            connections=self.connections,
        )


class DownloadCreate(OptionsIn):
    url: Url


class PlaylistCreate(OptionsIn):
    url: Url
    playlist_items: str | None = Field(default=None, pattern=PLAYLIST_ITEMS, examples=["1-10,15"])


class ChannelFilters(_In):
    date_after: str | None = Field(default=None, pattern=DATE, description="YYYYMMDD, inclusive")
    date_before: str | None = Field(default=None, pattern=DATE, description="YYYYMMDD, inclusive")
    min_duration: float | None = Field(default=None, ge=0, description="seconds")
    max_duration: float | None = Field(default=None, ge=0, description="seconds")
    min_views: int | None = Field(default=None, ge=0)
    max_views: int | None = Field(default=None, ge=0)
    max_items: int | None = Field(default=None, ge=1, le=100_000)
    strict: bool = Field(
        default=False,
        description="leave out entries whose metadata lacks a filtered value "
        "(by default they are kept)",
    )


class ChannelCreate(OptionsIn):
    url: Url
    filters: ChannelFilters = Field(default_factory=ChannelFilters)
    playlist_items: str | None = Field(default=None, pattern=PLAYLIST_ITEMS)


class BatchCreate(OptionsIn):
    urls: list[Url] = Field(min_length=1, max_length=100)


class ProgressPublic(BaseModel):
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None
    eta: float | None
    percent: float | None


class JobErrorPublic(BaseModel):
    code: str
    message: str | None


class JobPublic(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    stage: str | None
    url: str | None
    title: str | None
    platform: str | None
    priority: int
    parent_id: str | None
    subscription_id: str | None
    options: dict[str, Any]
    progress: ProgressPublic
    items_total: int | None
    items_done: int
    items_failed: int
    items_skipped: int
    attempts: int
    max_attempts: int
    cancel_requested: bool
    result: dict[str, Any] | None
    error: JobErrorPublic | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    file_url: str | None = Field(description="GET this to fetch the stored file (Range-capable)")
    file_urls: list[str] = Field(
        default_factory=list,
        description="every stored file of a completed job, in order (a playlist URL given to"
        " /download stores several): ``file_url?index=N``",
    )


class JobPage(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None


class BatchPublic(JobPublic):
    children: list[JobPublic]
    children_by_status: dict[str, int]


class JobLogPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    level: str
    message: str


class JobLogs(BaseModel):
    job_id: str
    logs: list[JobLogPublic]


def progress_public(
    done: int, total: int | None, speed: float | None, eta: float | None
) -> ProgressPublic:
    return ProgressPublic(
        downloaded_bytes=done,
        total_bytes=total,
        speed=speed,
        eta=eta,
        percent=round(min(100.0, done * 100.0 / total), 2) if total else None,
    )


def job_public(job: Job, *, prefix: str = "/api/v1") -> JobPublic:
    stored = result_paths(job.result) if job.status == JobStatus.COMPLETED else []
    file_url = f"{prefix}/download/{job.id}/file"
    return JobPublic(
        id=job.id,
        kind=JobKind(job.kind),
        status=JobStatus(job.status),
        stage=job.stage,
        url=job.url,
        title=job.title,
        platform=job.platform,
        priority=job.priority,
        parent_id=job.parent_id,
        subscription_id=job.subscription_id,
        options=job.options or {},
        progress=progress_public(job.downloaded_bytes or 0, job.total_bytes, job.speed, job.eta),
        items_total=job.items_total,
        items_done=job.items_done or 0,
        items_failed=job.items_failed or 0,
        items_skipped=job.items_skipped or 0,
        attempts=job.attempts or 0,
        max_attempts=job.max_attempts,
        cancel_requested=bool(job.cancel_requested),
        result=job.result,
        error=JobErrorPublic(code=job.error_code, message=job.error_message)
        if job.error_code
        else None,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        file_url=file_url if stored else None,
        file_urls=[file_url] + [f"{file_url}?index={n}" for n in range(1, len(stored))]
        if stored
        else [],
    )
