"""Sending finished jobs' files to a chat.

Each file is fetched from the service into a temporary directory and sent the way
Telegram shows it best (video, audio, photo player, else a document). Several files go
as media groups (albums); Telegram only groups photos with videos, audio with audio and
documents with documents, so a batch is split by that rule. A file over the bot upload
limit (50 MB on the public Bot API) is not uploaded: the chat gets a note with its link.
Flood-control answers (429 ``retry_after``) are waited out and the call retried.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from telegram import (
    Bot,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)
from telegram.error import RetryAfter, TelegramError

from mediavault.bots._api import FileInfo, ServiceClient, ServiceError
from mediavault.bots._format import MediaKind, caption, error_line, human_size, media_kind

__all__ = ["Sender", "retry_after_seconds", "telegram_call"]

log = logging.getLogger("mediavault.bots")

T = TypeVar("T")
_GROUP_OF: dict[MediaKind, str] = {
    "video": "visual",
    "photo": "visual",
    "audio": "audio",
    "document": "document",
}
FLOOD_RETRIES = 3
MAX_FLOOD_WAIT = 60.0


def retry_after_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def telegram_call(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Bot API call, waiting out flood control (a few times, bounded waits)."""
    for attempt in range(FLOOD_RETRIES + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == FLOOD_RETRIES:
                raise
            await asyncio.sleep(min(retry_after_seconds(exc), MAX_FLOOD_WAIT))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Ready:
    job: dict[str, Any]
    info: FileInfo
    kind: MediaKind

    @property
    def path(self) -> Path:
        assert self.info.path is not None
        return self.info.path


class Sender:
    """Delivers completed jobs' files to a chat."""

    def __init__(self, bot: Bot, api: ServiceClient, *, upload_limit: int, batch_size: int) -> None:
        self.bot = bot
        self.api = api
        self.upload_limit = upload_limit
        self.batch_size = max(1, min(10, batch_size))

    async def send_jobs(self, chat_id: int, jobs: Sequence[dict[str, Any]]) -> int:
        """Send the files of ``jobs`` (completed, with a file; every one of a job that
        stored several); returns how many were sent."""
        sent = 0
        with tempfile.TemporaryDirectory(prefix="mediavault-bot-") as tmp:
            ready: list[_Ready] = []
            wanted = [(job, n) for job in jobs for n in range(len(job.get("file_urls") or [0]))]
            for number, (job, index) in enumerate(wanted):
                directory = Path(tmp) / str(number)
                directory.mkdir()
                item = await self._fetch(chat_id, job, directory, index)
                if item is not None:
                    ready.append(item)
            for group in _groups(ready, self.batch_size):
                sent += await self._send_group(chat_id, group)
        return sent

    async def _fetch(
        self, chat_id: int, job: dict[str, Any], directory: Path, index: int
    ) -> _Ready | None:
        try:
            info = await self.api.fetch_file(
                job["id"], directory, max_size=self.upload_limit, index=index
            )
        except ServiceError as exc:
            await self.say(chat_id, f"{error_line(exc)} ({caption(job)[:200]})")
            return None
        if info.path is None:
            await self.say(
                chat_id,
                f"📎 {caption(job)[:300]} is {human_size(info.size)}, over Telegram's "
                f"{human_size(self.upload_limit)} bot upload limit. "
                f"Fetch it from the vault: {self.api.file_link(job, index)}",
            )
            return None
        return _Ready(job, info, media_kind(info.name, info.content_type, info.size))

    async def say(self, chat_id: int, text: str) -> None:
        await telegram_call(lambda: self.bot.send_message(chat_id, text))

    async def _send_group(self, chat_id: int, group: list[_Ready]) -> int:
        try:
            if len(group) == 1:
                await self._send_one(chat_id, group[0])
            else:
                media = [
                    _input_media(item, await asyncio.to_thread(item.path.read_bytes))
                    for item in group
                ]
                await telegram_call(lambda: self.bot.send_media_group(chat_id, media))
        except TelegramError as exc:
            log.warning("sending %d file(s) to chat %s failed: %s", len(group), chat_id, exc)
            names = ", ".join(item.info.name for item in group)
            await self.say(chat_id, f"⚠️ Telegram refused {names}: {exc.message}")
            return 0
        return len(group)

    async def _send_one(self, chat_id: int, item: _Ready) -> None:
        text = caption(item.job)
        data = await asyncio.to_thread(item.path.read_bytes)
        name = item.info.name
        if item.kind == "video":
            await telegram_call(
                lambda: self.bot.send_video(
                    chat_id, data, caption=text, filename=name, supports_streaming=True
                )
            )
        elif item.kind == "audio":
            await telegram_call(
                lambda: self.bot.send_audio(chat_id, data, caption=text, filename=name)
            )
        elif item.kind == "photo":
            await telegram_call(
                lambda: self.bot.send_photo(chat_id, data, caption=text, filename=name)
            )
        else:
            await telegram_call(
                lambda: self.bot.send_document(chat_id, data, caption=text, filename=name)
            )


def _input_media(
    item: _Ready, data: bytes
) -> InputMediaVideo | InputMediaAudio | InputMediaPhoto | InputMediaDocument:
    name, text = item.info.name, caption(item.job)
    if item.kind == "video":
        return InputMediaVideo(data, caption=text, filename=name, supports_streaming=True)
    if item.kind == "audio":
        return InputMediaAudio(data, caption=text, filename=name)
    if item.kind == "photo":
        return InputMediaPhoto(data, caption=text, filename=name)
    return InputMediaDocument(data, caption=text, filename=name)


def _groups(items: list[_Ready], size: int) -> list[list[_Ready]]:
    """Albums Telegram accepts: same group kind, at most ``size`` each, order kept."""
    by_kind: dict[str, list[_Ready]] = {}
    for item in items:
        by_kind.setdefault(_GROUP_OF[item.kind], []).append(item)
    out: list[list[_Ready]] = []
    for members in by_kind.values():
        out.extend(members[i : i + size] for i in range(0, len(members), size))
    return out
