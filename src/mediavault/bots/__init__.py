"""Chat front ends of mediavault: the Telegram bot (``mediavault bot``)."""

from __future__ import annotations

from mediavault.bots.telegram import BotOptions, TelegramBot, run_bot

__all__ = ["BotOptions", "TelegramBot", "run_bot"]
