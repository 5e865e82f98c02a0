"""The Telegram bot: a chat front end to a mediavault service (python-telegram-bot, async).

    bot = TelegramBot(settings)          # MEDIAVAULT_TELEGRAM_BOT_TOKEN, MEDIAVAULT_BOT_API_URL
    await bot.run(stop_event)            # long polling until ``stop_event`` is set

What a chat can do:

- send a link: a download job is queued on the service; one status message is edited
  with the progress (throttled), then the file is sent (video/audio/photo/document;
  over the upload limit: a note with the link instead)
- send a creator profile link (or ``/profile URL``): a profile scrape job; downloaded
  posts are sent in batches of 5 as albums while the scrape runs; ``/playlist URL`` the
  same for playlists and channels
- ``/status ID``, ``/cancel ID``, ``/jobs``, ``/help``, ``/start``

The bot is a client of the REST API (``MEDIAVAULT_BOT_API_URL`` with
``MEDIAVAULT_BOT_API_KEY``); API errors are shown as one line ``[code] message``.
``MEDIAVAULT_BOT_ALLOWED_CHATS`` restricts the bot to the listed chats; when it is empty
anyone may use the bot, and a chat only sees and cancels the jobs it started.
The token and API key never appear in logs (see ``SecretRedactor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# python-telegram-bot 22 warns whenever it hands out a time period as int (retry_after,
# durations) unless opted in to timedelta; it reads this variable at each access.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import BotCommand, Message, ReplyParameters, Update
from telegram.error import InvalidToken
from telegram.error import NetworkError as TelegramNetworkError
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from mediavault.bots._api import ServiceClient, ServiceError
from mediavault.bots._format import (
    HELP,
    error_line,
    extract_urls,
    job_line,
    job_status_text,
)
from mediavault.bots._send import Sender, telegram_call
from mediavault.bots._state import BotState, Watch
from mediavault.bots._status import SecretRedactor, StatusMessage
from mediavault.config import Settings
from mediavault.errors import ConfigError, NetworkError, UnsupportedURLError

__all__ = ["BotOptions", "TelegramBot", "is_profile_url", "run_bot"]

log = logging.getLogger("mediavault.bots")

Context = ContextTypes.DEFAULT_TYPE
FINAL = {"completed", "failed", "cancelled", "skipped"}
COMMANDS = [
    ("profile", "scrape a creator profile"),
    ("playlist", "download a playlist or channel"),
    ("audio", "download only the audio of a link"),
    ("status", "where a job is: /status ID"),
    ("cancel", "stop a job: /cancel ID"),
    ("jobs", "your latest jobs"),
    ("help", "what I can do"),
]


@dataclass(frozen=True, kw_only=True)
class BotOptions:
    """How the bot paces itself (defaults suit the public Bot API)."""

    poll_interval: float = 1.5  # seconds between reads of a watched job
    edit_interval: float = 3.0  # at least this long between edits of one status message
    upload_limit: int = 50 * 1024 * 1024  # the Bot API's upload limit for bots
    batch_size: int = 5  # files per album when a profile or playlist delivers
    long_poll_timeout: float = 10.0  # getUpdates long polling
    max_urls: int = 10  # links taken from one message
    service_failures: int = 10  # consecutive failed reads before a watch gives up


def is_profile_url(url: str) -> bool:
    """A creator/profile page handled by a native adapter (scraped, not downloaded)."""
    from mediavault.platforms.base import adapter_for

    try:
        return adapter_for(url).profiles
    except UnsupportedURLError:
        return False


class TelegramBot:
    def __init__(self, settings: Settings, *, options: BotOptions | None = None) -> None:
        if settings.telegram_bot_token is None:
            raise ConfigError("set MEDIAVAULT_TELEGRAM_BOT_TOKEN to run the Telegram bot")
        token = settings.telegram_bot_token.get_secret_value()
        self.options = options or BotOptions()
        self.allowed = set(settings.bot_allowed_chats)
        self.api = ServiceClient(settings)
        self.redactor = SecretRedactor(
            [token, settings.bot_api_key.get_secret_value() if settings.bot_api_key else None]
        )
        self._token = token
        self._api_base = settings.telegram_api_base.rstrip("/")
        self.state = BotState.load(settings.data_dir / "telegram-bot.json")
        self._watches: set[asyncio.Task[None]] = set()
        self.application: Application[Any, Any, Any, Any, Any, Any]
        self.sender: Sender

    def _build(self) -> None:
        """The python-telegram-bot application (built while the redactor is installed:
        the library logs its token-bearing URLs on construction)."""
        self.application = (
            Application.builder()
            .token(self._token)
            .base_url(f"{self._api_base}/bot")
            .base_file_url(f"{self._api_base}/file/bot")
            .connect_timeout(10.0)
            .read_timeout(30.0)
            .media_write_timeout(300.0)
            .get_updates_read_timeout(self.options.long_poll_timeout + 10.0)
            .build()
        )
        self.sender = Sender(
            self.application.bot,
            self.api,
            upload_limit=self.options.upload_limit,
            batch_size=self.options.batch_size,
        )
        self._install_handlers()

    # lifecycle ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll for updates and serve chats until ``stop`` is set."""
        self.redactor.install()
        try:
            self._build()
            async with self.application:
                await self._serve(stop)
        except InvalidToken as exc:
            raise ConfigError(
                "the Telegram Bot API refused the bot token (MEDIAVAULT_TELEGRAM_BOT_TOKEN)"
            ) from exc
        except TelegramNetworkError as exc:
            raise NetworkError(
                f"cannot reach the Telegram Bot API at {self._api_base}: "
                f"{self.redactor.redact(exc.message)}"
            ) from exc
        finally:
            await self.api.aclose()
            self.redactor.remove()

    async def _serve(self, stop: asyncio.Event) -> None:
        app = self.application
        await self._announce()
        await app.start()
        updater = app.updater
        assert updater is not None
        try:
            await updater.start_polling(
                timeout=timedelta(seconds=self.options.long_poll_timeout),
                allowed_updates=["message"],
            )
            log.info("telegram bot @%s is polling", app.bot.username)
            self._resume_watches()
            await stop.wait()
        finally:
            if updater.running:
                await updater.stop()
            await self._stop_watches()
            if app.running:
                await app.stop()

    async def _announce(self) -> None:
        commands = [BotCommand(name, text) for name, text in COMMANDS]
        try:
            await self.application.bot.set_my_commands(commands)
        except Exception as exc:  # the command menu is a nicety; the bot works without it
            log.warning("could not register the command menu: %s", exc)

    async def _stop_watches(self) -> None:
        for task in list(self._watches):
            task.cancel()
        await asyncio.gather(*self._watches, return_exceptions=True)

    def _install_handlers(self) -> None:
        app = self.application
        app.add_handler(CommandHandler(["start", "help"], self._guarded(self.on_help)))
        app.add_handler(CommandHandler("profile", self._guarded(self.on_profile)))
        app.add_handler(CommandHandler("playlist", self._guarded(self.on_playlist)))
        app.add_handler(CommandHandler("audio", self._guarded(self.on_audio)))
        app.add_handler(CommandHandler("status", self._guarded(self.on_status)))
        app.add_handler(CommandHandler("cancel", self._guarded(self.on_cancel)))
        app.add_handler(CommandHandler("jobs", self._guarded(self.on_jobs)))
        app.add_handler(MessageHandler(filters.COMMAND, self._guarded(self.on_unknown)))
        app.add_handler(MessageHandler(filters.TEXT, self._guarded(self.on_text)))
        app.add_error_handler(self.on_error)

    def _guarded(self, handler: Any) -> Any:
        """Only allowed chats reach ``handler``; API errors become one reply line."""

        async def guarded(update: Update, context: Context) -> None:
            message = update.effective_message
            if message is None:
                return
            if self.allowed and message.chat_id not in self.allowed:
                log.info("refused a message from chat %s (not allowed)", message.chat_id)
                await self.reply(message, f"⛔ This bot is private (chat {message.chat_id}).")
                return
            try:
                await handler(message, context.args or [])
            except ServiceError as exc:
                await self.reply(message, error_line(exc))

        return guarded

    async def on_error(self, update: object, context: Context) -> None:
        log.error("telegram bot handler failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(Exception):
                await self.reply(update.effective_message, error_line(context.error or Exception()))

    async def reply(self, message: Message, text: str) -> Message:
        return await telegram_call(
            lambda: message.get_bot().send_message(
                message.chat_id,
                text,
                reply_parameters=ReplyParameters(
                    message.message_id, allow_sending_without_reply=True
                ),
            )
        )

    # commands ----------------------------------------------------------------------------

    async def on_help(self, message: Message, args: list[str]) -> None:
        await self.reply(message, HELP)

    async def on_unknown(self, message: Message, args: list[str]) -> None:
        await self.reply(message, "Unknown command. /help lists what I can do.")

    async def on_text(self, message: Message, args: list[str]) -> None:
        links = [e.url for e in message.entities if e.url]
        urls = extract_urls(message.text or "", links)
        if not urls:
            await self.reply(message, "Send me a link to download (or /help).")
            return
        if len(urls) > self.options.max_urls:
            await self.reply(message, f"Taking the first {self.options.max_urls} links.")
        for url in urls[: self.options.max_urls]:
            kind = "profile" if is_profile_url(url) else "download"
            await self.submit(message, kind, url)

    async def on_profile(self, message: Message, args: list[str]) -> None:
        await self._submit_arg(message, args, "profile", "/profile URL")

    async def on_playlist(self, message: Message, args: list[str]) -> None:
        await self._submit_arg(message, args, "playlist", "/playlist URL")

    async def on_audio(self, message: Message, args: list[str]) -> None:
        await self._submit_arg(message, args, "audio", "/audio URL")

    async def _submit_arg(self, message: Message, args: list[str], kind: str, usage: str) -> None:
        urls = extract_urls(" ".join(args))
        if not urls:
            await self.reply(message, f"Usage: {usage}")
            return
        await self.submit(message, kind, urls[0])

    async def on_status(self, message: Message, args: list[str]) -> None:
        job_id = await self._job_arg(message, args, "/status ID")
        if job_id is not None:
            await self.reply(message, job_status_text(await self.api.job(job_id)))

    async def on_cancel(self, message: Message, args: list[str]) -> None:
        job_id = await self._job_arg(message, args, "/cancel ID")
        if job_id is None:
            return
        job = await self.api.cancel(job_id)
        if job["status"] in FINAL:
            await self.reply(message, f"Job {job_id} had already ended ({job['status']}).")
        else:
            await self.reply(message, f"🛑 Cancelling job {job_id}.")

    async def on_jobs(self, message: Message, args: list[str]) -> None:
        jobs = await self.api.jobs(limit=50 if not self.allowed else 10)
        mine = [j for j in jobs if self._may_see(message.chat_id, j["id"])][:10]
        text = "\n".join(job_line(j) for j in mine) if mine else "No jobs yet."
        await self.reply(message, text)

    async def _job_arg(self, message: Message, args: list[str], usage: str) -> str | None:
        if len(args) != 1:
            await self.reply(message, f"Usage: {usage}")
            return None
        job_id = args[0].strip()
        if not self._may_see(message.chat_id, job_id):
            await self.reply(message, f"⚠️ [not_found] no job {job_id[:64]} started from this chat")
            return None
        return job_id

    def _may_see(self, chat_id: int, job_id: str) -> bool:
        """A private bot's chats share the vault; an open bot's chats see their own jobs."""
        return bool(self.allowed) or self.state.owned.get(job_id) == chat_id

    # jobs --------------------------------------------------------------------------------

    async def submit(self, message: Message, kind: str, url: str) -> None:
        """Queue a job for ``url`` and watch it from one status message."""
        status = await self.reply(message, f"⏳ Queuing {url}")
        try:
            if kind == "profile":
                job = await self.api.scrape(url)
            elif kind == "playlist":
                job = await self.api.playlist(url)
            elif kind == "audio":
                job = await self.api.download(url, audio_only=True)
            else:
                job = await self.api.download(url)
        except ServiceError as exc:
            await StatusMessage(
                status.get_bot(), status.chat_id, status.message_id, status.text or "", 0
            ).update(error_line(exc), final=True)
            return
        text = job_status_text(job)
        watch = Watch(str(job["id"]), message.chat_id, status.message_id, text)
        await self.state.watch(watch)
        await self._tracker(watch, status.text or "").update(text, final=True)
        self._spawn_watch(watch)

    def _tracker(self, watch: Watch, shown: str) -> StatusMessage:
        return StatusMessage(
            self.application.bot,
            watch.chat_id,
            watch.message_id,
            shown,
            self.options.edit_interval,
        )

    def _spawn_watch(self, watch: Watch) -> None:
        task = asyncio.create_task(self._watch(watch), name=f"watch-{watch.job_id}")
        self._watches.add(task)
        task.add_done_callback(self._watch_done)

    def _resume_watches(self) -> None:
        """Pick up the jobs a previous run was still watching."""
        for watch in list(self.state.watches.values()):
            log.info("resuming the watch of job %s for chat %s", watch.job_id, watch.chat_id)
            self._spawn_watch(watch)

    def _watch_done(self, task: asyncio.Task[None]) -> None:
        self._watches.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("watching a job failed", exc_info=task.exception())

    async def _watch(self, watch: Watch) -> None:
        """Follow a job to its end: edit the status, deliver files as they are ready."""
        tracker = self._tracker(watch, watch.text)
        failures = 0
        while True:
            await asyncio.sleep(self.options.poll_interval)
            try:
                job = await self.api.job(watch.job_id)
                final = job["status"] in FINAL
                if job["kind"] != "download":
                    await self._deliver_children(watch, flush=final)
            except ServiceError as exc:
                failures += 1
                if failures >= self.options.service_failures:
                    await tracker.update(
                        f"{error_line(exc)}\nStopped watching job "
                        f"{watch.job_id}; /status {watch.job_id} shows where "
                        "it is.",
                        final=True,
                    )
                    await self.state.finish(watch.job_id)
                    return
                continue
            failures = 0
            text = job_status_text(job)
            if watch.delivered:
                text += f"\n📤 {len(watch.delivered)} sent"
            await tracker.update(text, final=final)
            watch.text = tracker.text
            if final:
                break
        if job["kind"] == "download" and job["status"] == "completed" and job.get("file_url"):
            await self.sender.send_jobs(watch.chat_id, [job])
        await self.state.finish(watch.job_id)

    async def _deliver_children(self, watch: Watch, *, flush: bool) -> None:
        """Send finished children in full batches (and the rest once the parent ended)."""
        children = await self.api.children(watch.job_id)
        done = set(watch.delivered)
        ready = [
            c
            for c in children
            if c["id"] not in done and c["status"] == "completed" and c.get("file_url")
        ]
        size = self.options.batch_size
        while len(ready) >= size or (flush and ready):
            batch, ready = ready[:size], ready[size:]
            await self.sender.send_jobs(watch.chat_id, batch)
            watch.delivered.extend(c["id"] for c in batch)
            await self.state.save()


async def run_bot(
    settings: Settings, stop: asyncio.Event, *, options: BotOptions | None = None
) -> None:
    """Run a ``TelegramBot`` until ``stop`` is set (used by ``mediavault bot``)."""
    started = time.monotonic()
    await TelegramBot(settings, options=options).run(stop)
    log.info("telegram bot stopped after %.0f s", time.monotonic() - started)
