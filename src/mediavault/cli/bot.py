"""``mediavault bot``: run the Telegram bot against a mediavault service."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from mediavault.cli import app, fail
from mediavault.config import Settings, get_settings
from mediavault.errors import MediavaultError

__all__ = ["bot"]


@app.command()
def bot(
    api_url: str | None = typer.Option(
        None, "--api-url", help="mediavault service to use (default MEDIAVAULT_BOT_API_URL)."
    ),
) -> None:
    """Run the Telegram bot (token in MEDIAVAULT_TELEGRAM_BOT_TOKEN) until stopped."""
    try:
        settings = get_settings(**({"bot_api_url": api_url} if api_url else {}))
        if settings.telegram_bot_token is None:
            raise fail("set MEDIAVAULT_TELEGRAM_BOT_TOKEN to run the Telegram bot")
        _configure_logging(settings)
        asyncio.run(_run(settings))
    except MediavaultError as exc:
        raise fail(exc) from exc


async def _run(settings: Settings) -> None:
    from mediavault.bots.telegram import run_bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_bot(settings, stop)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request URL at INFO, and Bot API URLs carry the token: keep those
    # lines out (the bot's redaction filter still guards whatever is logged).
    logging.getLogger("httpx").setLevel(logging.WARNING)
