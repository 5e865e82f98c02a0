"""Structured logs for the service, every line carrying the request id bound by the
middleware: JSON lines by default (and with ``MEDIAVAULT_LOG_JSON=true``), the console
format when stderr is a terminal (or with ``MEDIAVAULT_LOG_JSON=false``)."""

from __future__ import annotations

import logging
import sys

import structlog

from mediavault.config import Settings

__all__ = ["configure_logging"]


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    as_json = settings.log_json if settings.log_json is not None else not sys.stderr.isatty()
    if as_json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
