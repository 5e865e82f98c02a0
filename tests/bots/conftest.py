"""The bot's world, all real and all on loopback:

- ``botapi``: the Telegram Bot API emulation (``tests.bots.botapi.BotApi``)
- ``vault``: the real mediavault service as ``mediavault serve`` runs it (the FastAPI app
  under uvicorn plus the embedded worker, SQLite + local storage) in a background thread,
  with ``apikey`` auth and one API key for the bot
- ``start_bot(**overrides)``: a ``TelegramBot`` polling the emulation, running as a task
  in the test's event loop (stopped at teardown); ``until(predicate)`` waits for calls
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from mediavault import accounts
from mediavault.api.app import create_app
from mediavault.bots.telegram import BotOptions, TelegramBot
from mediavault.config import Settings
from tests.bots.botapi import TOKEN, BotApi

FAST = BotOptions(poll_interval=0.2, edit_interval=0.5, long_poll_timeout=1.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Vault:
    """``mediavault serve`` (API + embedded worker) in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.settings = settings.model_copy(update={"port": self.port})
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.key = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _main(self) -> None:
        from mediavault.jobs.engine import Engine
        from mediavault.services import run_embedded_worker

        engine = await asyncio.to_thread(Engine.open, self.settings)
        stop = asyncio.Event()
        worker = asyncio.create_task(run_embedded_worker(self.settings, stop=stop, engine=engine))
        try:
            await self.server.serve()
        finally:
            stop.set()
            await asyncio.gather(worker, return_exceptions=True)
            engine.close()

    def __enter__(self) -> Vault:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("mediavault service did not start")
            time.sleep(0.02)
        with self.app.state.services.db.write_sessionmaker() as session:
            user = accounts.create_user(session, "telegram")
            _, self.key = accounts.create_key(session, user)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def jobs(self, **params: Any) -> list[dict[str, Any]]:
        response = httpx.get(self.url + "/api/v1/jobs", params=params,
                             headers={"X-API-Key": self.key}, timeout=10)
        response.raise_for_status()
        return list(response.json()["items"])

    def file(self, job_id: str) -> bytes:
        response = httpx.get(f"{self.url}/api/v1/download/{job_id}/file",
                             headers={"X-API-Key": self.key}, timeout=10)
        response.raise_for_status()
        return response.content


@pytest.fixture
def botapi() -> Iterator[BotApi]:
    with BotApi() as api:
        yield api


@pytest.fixture
def vault_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"auth": "apikey", "rate_limit_per_minute": 100_000,
                                  "log_level": "WARNING", "connections": 1, "max_retries": 1,
                                  "heartbeat_seconds": 0.2}
        values.update(overrides)
        return make_settings(**values)

    return factory


@pytest.fixture
def start_vault(vault_settings: Callable[..., Settings]) -> Iterator[Callable[..., Vault]]:
    started: list[Vault] = []

    def start(**overrides: Any) -> Vault:
        vault = Vault(vault_settings(**overrides)).__enter__()
        started.append(vault)
        return vault

    yield start
    for vault in reversed(started):
        vault.__exit__()


@pytest.fixture
def vault(start_vault: Callable[..., Vault]) -> Vault:
    return start_vault()


@dataclass
class RunningBot:
    bot: TelegramBot
    task: asyncio.Task[None]
    stop_event: asyncio.Event

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, timeout=20)


@pytest.fixture
async def start_bot(make_settings: Callable[..., Settings],
                    botapi: BotApi) -> AsyncIterator[Callable[..., RunningBot]]:
    running: list[RunningBot] = []

    def start(vault: Vault | None = None, *, options: BotOptions = FAST, **overrides: Any) -> RunningBot:
        values: dict[str, Any] = {
            "telegram_bot_token": TOKEN,
            "telegram_api_base": botapi.base_url,
            "bot_api_url": vault.url if vault else "http://127.0.0.1:9",
            "bot_api_key": vault.key if vault else None,
        }
        values.update(overrides)
        bot = TelegramBot(make_settings(**values), options=options)
        stop = asyncio.Event()
        running.append(RunningBot(bot, asyncio.create_task(bot.run(stop)), stop))
        return running[-1]

    yield start
    for item in running:
        item.stop_event.set()
    await asyncio.wait_for(asyncio.gather(*(r.task for r in running)), timeout=20)


async def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "",
                botapi: BotApi | None = None) -> Any:
    """Wait (without blocking the event loop) until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            calls = [(c.method, c.params.get("text") or c.params.get("caption"))
                     for c in (botapi.calls if botapi else []) if c.method != "getUpdates"]
            raise AssertionError(f"timed out waiting for {what or predicate}; calls: {calls}")
        await asyncio.sleep(0.05)
