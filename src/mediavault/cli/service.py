"""``mediavault serve``, ``mediavault worker`` and ``mediavault db upgrade``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import typer

from mediavault.cli import app, fail
from mediavault.config import Settings, get_settings
from mediavault.errors import MediavaultError

__all__ = ["db_app"]

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _settings(**overrides: object) -> Settings:
    try:
        return get_settings(**{k: v for k, v in overrides.items() if v is not None})
    except MediavaultError as exc:
        raise fail(exc) from exc


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port to listen on (default 8080)."),
    no_worker: bool = typer.Option(False, "--no-worker", help="API only: run no jobs here."),
) -> None:
    """Run the REST API and dashboard, with an embedded worker unless --no-worker."""
    settings = _settings(host=host, port=port)
    _configure_logging(settings)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(settings, with_worker=not no_worker))
    except MediavaultError as exc:
        raise fail(exc) from exc


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the API when installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises a caught SIGTERM when ``serve`` returns, which would kill
        this process before the worker (child) is stopped; ``_serve`` handles signals."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


async def _serve(settings: Settings, *, with_worker: bool) -> None:
    """The API; the embedded worker runs in a child process (``embedded_worker=process``,
    the default) or on this event loop (``inline``); with --no-worker only the reaper."""
    import uvicorn

    from mediavault.api.app import create_app
    from mediavault.api.embedded import WorkerProcess
    from mediavault.jobs.engine import Engine
    from mediavault.jobs.reaper import Reaper
    from mediavault.services import run_embedded_worker

    engine = await asyncio.to_thread(Engine.open, settings)  # migrates the database first
    stop = asyncio.Event()
    background: asyncio.Task[None]
    if not with_worker:
        background = asyncio.create_task(Reaper(engine).run(stop))
    elif settings.embedded_worker == "process":
        background = asyncio.create_task(WorkerProcess(settings).run(stop))
    else:
        background = asyncio.create_task(run_embedded_worker(settings, stop=stop, engine=engine))
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # the API middleware writes one structured line per request
        lifespan="on",
    )
    server = _server_class()(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    _freeze_startup_objects()
    try:
        await server.serve()  # returns on SIGINT/SIGTERM
    finally:
        stop.set()
        await asyncio.gather(background, return_exceptions=True)
        engine.close()


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the app, its routes and schemas) out
    of the garbage collector's reach: a full collection then only scans what requests
    created. Without this, full collections of the start-up heap paused the API for up to
    ~90 ms every few seconds under load (benchmarks/README-api.md)."""
    gc.collect()
    gc.freeze()


@app.command()
def worker(
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-c", min=1, max=64, help="Jobs run at once (default 3)."
    ),
) -> None:
    """Run a worker: take jobs from the queue until stopped (SIGTERM/Ctrl-C)."""
    from mediavault.jobs.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    try:
        asyncio.run(run_worker(settings, concurrency=concurrency))
    except MediavaultError as exc:
        raise fail(exc) from exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done automatically at start)."""
    from mediavault.jobs.db import upgrade

    settings = _settings()
    try:
        upgrade(settings)
    except MediavaultError as exc:
        raise fail(exc) from exc
    except Exception as exc:  # a driver/connection error: one line, not a traceback
        raise fail(f"database upgrade failed: {exc}") from exc
    typer.echo("database is up to date")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
