"""Domain models: what adapters yield, what the engine and the job store record.

Everything here is a frozen Pydantic v2 model: required fields missing is an error,
optional metadata is read tolerantly by the adapters before it gets here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AudioFormat",
    "Collection",
    "CollectionEntry",
    "Creator",
    "DownloadOptions",
    "DownloadResult",
    "Event",
    "EventType",
    "Format",
    "Fragment",
    "ItemStatus",
    "JobKind",
    "JobStatus",
    "MediaItem",
    "Post",
    "Progress",
    "Protocol",
    "Subtitle",
    "Thumbnail",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Protocol(StrEnum):
    HTTP = "http"  # a plain file, fetched by our segmented engine
    HLS = "hls"  # m3u8 media playlist, fetched by our fragment engine
    DASH = "dash"  # explicit fragment list (init + segments)
    YTDLP = "ytdlp"  # anything else: yt-dlp's own downloader


class Fragment(_Frozen):
    url: str
    byte_range: tuple[int, int] | None = None  # inclusive start, end
    duration: float | None = None


class Format(_Frozen):
    format_id: str
    url: str
    protocol: Protocol = Protocol.HTTP
    ext: str = "mp4"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    vcodec: str | None = None  # "none" for audio-only
    acodec: str | None = None  # "none" for video-only
    abr: float | None = None
    tbr: float | None = None
    filesize: int | None = None
    filesize_approx: int | None = None
    language: str | None = None
    note: str | None = None
    drm: bool = False
    http_headers: dict[str, str] = Field(default_factory=dict)
    fragments: tuple[Fragment, ...] | None = None
    manifest_url: str | None = None
    sha256: str | None = None
    md5: str | None = None

    @property
    def has_video(self) -> bool:
        return self.vcodec != "none" and (self.vcodec is not None or self.height is not None)

    @property
    def has_audio(self) -> bool:
        return self.acodec != "none"

    @property
    def is_audio_only(self) -> bool:
        return self.vcodec == "none" and self.acodec not in (None, "none")

    @property
    def is_video_only(self) -> bool:
        return self.acodec == "none" and self.vcodec not in (None, "none")


class Subtitle(_Frozen):
    lang: str
    url: str
    ext: str = "vtt"
    name: str | None = None
    automatic: bool = False


class Thumbnail(_Frozen):
    url: str
    id: str | None = None
    width: int | None = None
    height: int | None = None


class MediaItem(_Frozen):
    """One downloadable media item (a video, an audio track, an image)."""

    platform: str
    id: str
    title: str
    url: str  # the page URL the item was found at
    formats: tuple[Format, ...]
    uploader: str | None = None
    uploader_id: str | None = None
    upload_date: str | None = None  # YYYYMMDD
    timestamp: float | None = None
    duration: float | None = None
    description: str | None = None
    view_count: int | None = None
    like_count: int | None = None
    tags: tuple[str, ...] = ()
    subtitles: tuple[Subtitle, ...] = ()
    thumbnails: tuple[Thumbnail, ...] = ()
    playlist: str | None = None
    playlist_index: int | None = None
    kind: Literal["video", "audio", "image", "other"] = "video"
    drm: bool = False
    http_headers: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def archive_key(self) -> str:
        return f"{self.platform} {self.id}"


class CollectionEntry(_Frozen):
    url: str
    id: str | None = None
    title: str | None = None
    index: int | None = None
    timestamp: float | None = None
    duration: float | None = None
    view_count: int | None = None
    upload_date: str | None = None


class Collection(_Frozen):
    """A playlist, channel, feed or profile: more URLs, not media itself."""

    platform: str
    id: str
    title: str
    url: str
    kind: Literal["playlist", "channel", "feed", "profile"] = "playlist"
    uploader: str | None = None
    entries: tuple[CollectionEntry, ...] = ()
    entry_count: int | None = None


class Creator(_Frozen):
    """A creator's profile on a creator platform (OnlyFans, Fansly, LoyalFans, TikTok)."""

    platform: str
    id: str
    username: str
    name: str | None = None
    url: str | None = None
    about: str | None = None
    avatar: str | None = None
    header: str | None = None
    posts_count: int | None = None
    media_count: int | None = None
    followers_count: int | None = None
    is_subscribed: bool | None = None


class Post(_Frozen):
    platform: str
    id: str
    creator_id: str
    kind: Literal["post", "message", "story", "highlight", "video"] = "post"
    text: str | None = None
    created_at: datetime | None = None
    media: tuple[MediaItem, ...] = ()
    locked: bool = False  # paid content this account cannot see


class AudioFormat(StrEnum):
    MP3 = "mp3"
    M4A = "m4a"
    OPUS = "opus"
    FLAC = "flac"
    WAV = "wav"
    AAC = "aac"


class DownloadOptions(_Frozen):
    """What the user asked for: shared by the CLI, the library and the API."""

    format: str = "best"
    audio_only: bool = False
    audio_format: AudioFormat | None = None
    audio_bitrate: str | None = Field(default=None, pattern=r"^(9[6-9]|[1-2]\d\d|3[0-1]\d|320)k$")
    container: str | None = None  # remux target, e.g. mp4 / mkv
    subtitles: tuple[str, ...] = ()  # languages; ("all",) for all
    subtitle_format: Literal["srt", "vtt", "ass"] | None = None
    embed_subtitles: bool = False
    thumbnail: bool = False
    embed_thumbnail: bool = False
    embed_metadata: bool = True
    template: str | None = None
    playlist_items: str | None = None  # "1-10,15"
    connections: int | None = Field(default=None, ge=1, le=64)
    cookies_file: str | None = None


class ItemStatus(StrEnum):
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


class DownloadResult(_Frozen):
    platform: str
    item_id: str
    title: str
    status: ItemStatus
    path: str | None = None  # the main file, relative to storage root or absolute local
    extra_paths: tuple[str, ...] = ()  # subtitles, thumbnails written beside it
    format_id: str | None = None
    size: int | None = None
    sha256: str | None = None
    duplicate_of: str | None = None
    reason: str | None = None  # skip reason or error code
    message: str | None = None
    url: str | None = None


class Progress(_Frozen):
    item_id: str
    status: Literal["extracting", "downloading", "postprocessing", "finished", "error"] = (
        "downloading"
    )
    downloaded_bytes: int = 0
    total_bytes: int | None = None
    speed: float | None = None
    eta: float | None = None
    fragments_done: int | None = None
    fragments_total: int | None = None
    title: str | None = None


class JobKind(StrEnum):
    DOWNLOAD = "download"
    PLAYLIST = "playlist"
    CHANNEL = "channel"
    BATCH = "batch"
    PROFILE_SCRAPE = "profile_scrape"
    SUBSCRIPTION_SYNC = "subscription_sync"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


class EventType(StrEnum):
    QUEUED = "job.queued"
    STARTED = "job.started"
    PROGRESS = "job.progress"
    COMPLETED = "job.completed"
    FAILED = "job.failed"
    CANCELLED = "job.cancelled"
    SKIPPED = "item.skipped"


class Event(_Frozen):
    """The one event schema shared by WebSocket, SSE and webhooks (SPEC §4)."""

    type: EventType
    job_id: str
    status: str
    downloaded_bytes: int = 0
    total_bytes: int | None = None
    speed: float | None = None
    eta: float | None = None
    ts: str
