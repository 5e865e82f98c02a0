"""The one status message per job the bot keeps editing, and secret redaction for logs.

``StatusMessage`` edits at most once per ``interval`` seconds (Telegram rate-limits
edits), never sends an unchanged text, backs off when Telegram answers with flood
control, and always delivers the final text.

``SecretRedactor`` is a logging filter installed on the root handlers while the bot runs:
the bot token sits in every Bot API URL (httpx and python-telegram-bot log those URLs at
INFO/DEBUG), so every record, tracebacks included, has the secrets replaced by ``***``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from telegram import Bot
from telegram.error import BadRequest, RetryAfter, TelegramError

from mediavault.bots._send import retry_after_seconds, telegram_call

__all__ = ["SecretRedactor", "StatusMessage"]

log = logging.getLogger("mediavault.bots")


class StatusMessage:
    def __init__(self, bot: Bot, chat_id: int, message_id: int, text: str, interval: float) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.text = text
        self.interval = interval
        self._last_edit = time.monotonic()
        self._blocked_until = 0.0

    async def update(self, text: str, *, final: bool = False) -> None:
        """Show ``text``; intermediate updates are dropped while throttled."""
        if text == self.text:
            return
        now = time.monotonic()
        if not final and (now - self._last_edit < self.interval or now < self._blocked_until):
            return
        try:
            if final:
                await telegram_call(self._edit(text))
            else:
                await self._edit(text)()
        except RetryAfter as exc:  # intermediate: skip this one, wait before the next
            self._blocked_until = now + retry_after_seconds(exc)
            return
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("editing status message in chat %s failed: %s", self.chat_id, exc)
        except TelegramError as exc:
            log.warning("editing status message in chat %s failed: %s", self.chat_id, exc)
            return
        self.text = text
        self._last_edit = time.monotonic()

    def _edit(self, text: str) -> Callable[[], Awaitable[object]]:
        async def edit() -> object:
            return await self.bot.edit_message_text(
                text, chat_id=self.chat_id, message_id=self.message_id
            )

        return edit


class SecretRedactor(logging.Filter):
    """Replace secrets in log records (message, arguments, traceback) with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__("mediavault.redact")
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._installed: list[logging.Handler] = []

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def install(self, handlers: Iterable[logging.Handler] | None = None) -> None:
        for handler in handlers if handlers is not None else logging.getLogger().handlers:
            if self not in handler.filters:
                handler.addFilter(self)
                self._installed.append(handler)

    def remove(self) -> None:
        for handler in self._installed:
            handler.removeFilter(self)
        self._installed.clear()
