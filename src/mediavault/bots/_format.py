"""What the bot says: status lines for jobs, error lines, help, and media-kind decisions.

Pure functions over the API's job JSON, so the wording is tested without a network.
Messages are plain text (no parse mode): titles and error messages are never markup.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mediavault.errors import MediavaultError

__all__ = [
    "HELP",
    "MediaKind",
    "caption",
    "error_line",
    "extract_urls",
    "human_size",
    "job_line",
    "job_status_text",
    "media_kind",
]

MediaKind = Literal["video", "audio", "photo", "document"]

HELP = (
    "Send me a link and I download it into the vault, show the progress here, then send "
    "you the file.\n"
    "A creator profile link (TikTok @user, OnlyFans, Fansly, LoyalFans) is scraped: every "
    "new post is downloaded and sent in batches of 5.\n\n"
    "/profile URL - scrape a profile\n"
    "/playlist URL - download every entry of a playlist or channel\n"
    "/audio URL - download only the audio\n"
    "/status ID - where a job is\n"
    "/cancel ID - stop a job\n"
    "/jobs - your latest jobs\n"
    "/help - this text"
)

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""
MAX_CAPTION = 1024
MAX_TEXT = 4096
_ICONS = {
    "queued": "⏳",
    "running": "⬇️",
    "completed": "✅",
    "failed": "❌",
    "cancelled": "🚫",
    "skipped": "⏭",
}
_VIDEO_EXT = {".mp4", ".m4v", ".mov"}
_AUDIO_EXT = {".mp3", ".m4a"}
_PHOTO_EXT = {".jpg", ".jpeg", ".png", ".webp"}
PHOTO_LIMIT = 10 * 1024 * 1024  # Telegram's sendPhoto limit; bigger images go as documents


def human_size(size: float | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _bar(percent: float, width: int = 12) -> str:
    filled = max(0, min(width, round(percent / 100 * width)))
    return "█" * filled + "░" * (width - filled)


def _label(job: Mapping[str, Any]) -> str:
    return str(job.get("title") or job.get("url") or job.get("id") or "job")


def _progress_line(progress: Mapping[str, Any]) -> str | None:
    done = int(progress.get("downloaded_bytes") or 0)
    total = progress.get("total_bytes")
    percent = progress.get("percent")
    if not done and not total:
        return None
    parts: list[str] = []
    if percent is not None:
        parts.append(f"{_bar(float(percent))} {float(percent):.0f}%")
    parts.append(f"{human_size(done)} of {human_size(total)}" if total else human_size(done))
    if progress.get("speed"):
        parts.append(f"{human_size(float(progress['speed']))}/s")
    if progress.get("eta") is not None and percent is not None and float(percent) < 100:
        parts.append(f"ETA {_duration(float(progress['eta']))}")
    return " · ".join(parts)


def _items_line(job: Mapping[str, Any]) -> str | None:
    total = job.get("items_total")
    done, failed, skipped = (
        int(job.get(k) or 0) for k in ("items_done", "items_failed", "items_skipped")
    )
    if total is None and not (done or failed or skipped):
        return None
    line = f"{done} of {total if total is not None else '?'} done"
    if failed:
        line += f" · {failed} failed"
    if skipped:
        line += f" · {skipped} skipped"
    return line


def job_status_text(job: Mapping[str, Any]) -> str:
    """The status message of a job: what, where it is, progress, how to stop it."""
    status = str(job.get("status") or "queued")
    kind = str(job.get("kind") or "download")
    what = "Profile" if kind == "profile_scrape" else kind.replace("_", " ").capitalize()
    stage = job.get("stage")
    head = f"{_ICONS.get(status, '•')} {what} {status}"
    if stage and status == "running" and stage != status:
        head += f" ({stage})"
    lines = [head, _label(job)[:300]]
    progress = _progress_line(job.get("progress") or {})
    items = _items_line(job)
    if items is not None:
        lines.append(items)
    elif progress is not None and status in ("running", "completed"):
        lines.append(progress)
    error = job.get("error")
    if error and status in ("failed", "skipped"):
        lines.append(f"[{error.get('code')}] {error.get('message') or ''}".strip())
    if status in ("queued", "running"):
        lines.append(f"id {job.get('id')} · /cancel {job.get('id')}")
    else:
        lines.append(f"id {job.get('id')}")
    return "\n".join(lines)[:MAX_TEXT]


def job_line(job: Mapping[str, Any]) -> str:
    """One line per job for /jobs."""
    status = str(job.get("status"))
    return f"{_ICONS.get(status, '•')} {job.get('id')} {status} · {_label(job)[:80]}"


def error_line(exc: BaseException) -> str:
    """One clear line for an error; the service's own code and message when it sent one."""
    if isinstance(exc, MediavaultError):
        code = getattr(exc, "remote_code", exc.code)
        message = exc.message
    else:
        code, message = "internal_error", "something went wrong on the bot's side"
    return f"⚠️ [{code}] {message}".replace("\n", " ")[:MAX_TEXT]


def caption(job: Mapping[str, Any]) -> str:
    return _label(job)[:MAX_CAPTION]


def extract_urls(text: str, extra: Iterable[str] = ()) -> list[str]:
    """http(s) URLs in a message (and its text-link entities), in order, without repeats."""
    found = [m.group().rstrip(_TRAILING) for m in _URL.finditer(text or "")]
    found.extend(u for u in extra if _URL.fullmatch(u))
    return list(dict.fromkeys(found))


def media_kind(name: str, content_type: str, size: int | None) -> MediaKind:
    """How Telegram should show a file: video/audio/photo players for the formats it plays."""
    ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    mime = (content_type or "").split(";")[0].strip().lower()
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(name)[0] or ""
    if mime.startswith("video/") and ext in _VIDEO_EXT:
        return "video"
    if mime.startswith("audio/") and ext in _AUDIO_EXT:
        return "audio"
    if mime.startswith("image/") and ext in _PHOTO_EXT and (size or 0) <= PHOTO_LIMIT:
        return "photo"
    return "document"
