"""A real API server (uvicorn in a thread, on a free loopback port) per test.

``api`` gives the base URL, the ``Services`` behind it (for seeding users/keys and
inspecting the database) and ready-made callers: an admin and two ordinary users, each
with an API key. Auth mode is ``apikey`` unless a test asks otherwise.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from mediavault import accounts
from mediavault.api.app import create_app
from mediavault.api.state import Services
from mediavault.config import Settings


@dataclass
class Caller:
    name: str
    user_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@dataclass
class Api:
    base_url: str
    services: Services
    admin: Caller
    alice: Caller
    bob: Caller

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, caller: Caller | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = caller.headers if caller else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _caller(services: Services, name: str, *, admin: bool = False) -> Caller:
    with services.db.sessionmaker() as session:
        user = accounts.create_user(session, name, admin=admin)
        _, key = accounts.create_key(session, user)
        return Caller(name, user.id, key)


class Server:
    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.app = create_app(settings.model_copy(update={"port": self.port}))
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


ApiFactory = Callable[..., Api]


@pytest.fixture
def api_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "auth": "apikey",
            "rate_limit_per_minute": 100_000,
            "webhook_retry_base_seconds": 0.2,
            "sse_keepalive_seconds": 0.5,
            "log_level": "WARNING",
        }
        values.update(overrides)
        return make_settings(**values)

    return factory


@pytest.fixture
def start_api(api_settings: Callable[..., Settings]) -> Iterator[ApiFactory]:
    servers: list[Server] = []

    def start(**overrides: Any) -> Api:
        server = Server(api_settings(**overrides))
        servers.append(server.__enter__())
        services: Services = server.app.state.services
        return Api(
            base_url=f"http://127.0.0.1:{server.port}",
            services=services,
            admin=_caller(services, "admin", admin=True),
            alice=_caller(services, "alice"),
            bob=_caller(services, "bob"),
        )

    yield start
    for server in reversed(servers):
        server.__exit__()


@pytest.fixture
def api(start_api: ApiFactory) -> Api:
    return start_api()
