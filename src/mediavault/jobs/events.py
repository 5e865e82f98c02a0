"""The event bus: job status changes and throttled progress, in the SPEC §4 schema.

In the embedded setup (no ``queue_url``) events fan out in-process to every subscriber.
With ``queue_url=redis://…`` they travel over Redis pub/sub, so an API process sees
what worker processes publish (the publisher's own process receives them the same way).

    async with bus.subscribe() as events:
        async for event, user_id in events:
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from mediavault.config import Settings
from mediavault.jobs._redis import RawRedis
from mediavault.jobs.tables import Job
from mediavault.models import Event, EventType

__all__ = ["EventBus", "Subscription", "event_bus_for", "event_for", "iter_events"]

_QUEUE_SIZE = 1000

Listener = Callable[[Event, str | None], None]


class JobState(Protocol):
    """What an event tells of a job (a ``Job`` row, or a job the hot path just ended)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def downloaded_bytes(self) -> int | None: ...
    @property
    def total_bytes(self) -> int | None: ...
    @property
    def speed(self) -> float | None: ...
    @property
    def eta(self) -> float | None: ...


def event_for(job: JobState | Job, type_: EventType) -> Event:
    """The public event for ``job`` as it is now."""
    return Event(
        type=type_,
        job_id=job.id,
        status=job.status,
        downloaded_bytes=job.downloaded_bytes or 0,
        total_bytes=job.total_bytes,
        speed=job.speed,
        eta=job.eta,
        ts=datetime.now(UTC).isoformat(),
    )


class Subscription:
    """An async iterator of ``(Event, user_id)``; close it (or use ``async with``)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[tuple[Event, str | None]] = asyncio.Queue(_QUEUE_SIZE)
        self._loop = asyncio.get_running_loop()
        self._pubsub: Any = None
        self._client: Any = None
        self._closed = False
        if bus.redis_url is None:
            bus._add(self)

    async def start(self) -> None:
        """Make sure events published from now on are received (Redis: subscribe now)."""
        if self._bus.redis_url is None or self._pubsub is not None:
            return
        self._client = aioredis.Redis.from_url(self._bus.redis_url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._bus.channel)

    def _offer(self, item: tuple[Event, str | None]) -> None:
        """Called from any thread: queue without blocking, dropping the oldest when full."""

        def put() -> None:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(item)

        with contextlib.suppress(RuntimeError):  # the subscriber's loop is gone
            self._loop.call_soon_threadsafe(put)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[Event, str | None]:
        if self._closed:
            raise StopAsyncIteration
        if self._bus.redis_url is None:
            return await self._queue.get()
        await self.start()
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            return _decode(message["data"])

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        if self._pubsub is not None:
            await self._pubsub.unsubscribe()
            await self._pubsub.aclose()
            await self._client.aclose()

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _encode(event: Event, user_id: str | None) -> str:
    return json.dumps({"event": event.model_dump(mode="json"), "user_id": user_id})


def _decode(data: bytes | str) -> tuple[Event, str | None]:
    body = json.loads(data)
    return Event.model_validate(body["event"]), body.get("user_id")


class EventBus:
    """Publish job events; subscribe from any coroutine (the API, webhooks, tests)."""

    def __init__(self, settings: Settings) -> None:
        url = settings.queue_url
        self.redis_url = url if url and url.startswith("redis") else None
        self.channel = f"{settings.queue_name}:events"
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._redis: RawRedis | None = None

    async def publish(self, event: Event, *, user_id: str | None) -> None:
        if self.redis_url is None:
            self.publish_local(event, user_id=user_id)
            return
        await asyncio.to_thread(self.publish_many_sync, [(event, user_id)])

    def publish_sync(self, event: Event, *, user_id: str | None) -> None:
        """``publish`` for threads (the job store publishes right after each commit)."""
        self.publish_many_sync([(event, user_id)])

    def publish_many_sync(self, items: Sequence[tuple[Event, str | None]]) -> None:
        """``publish_sync`` for several events, in order, in one Redis round trip."""
        if self.redis_url is None:
            for event, user_id in items:
                self.publish_local(event, user_id=user_id)
        elif items:
            channel = self.channel
            self._redis_client().execute(
                [("PUBLISH", channel, _encode(event, user_id)) for event, user_id in items]
            )

    def publish_local(self, event: Event, *, user_id: str | None) -> None:
        """Deliver to this process's listeners and subscribers only (any thread)."""
        with self._lock:
            listeners = list(self._listeners)
            subscribers = list(self._subscribers)
        for listener in listeners:
            listener(event, user_id)
        for sub in subscribers:
            sub._offer((event, user_id))

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, user_id)`` in the publishing thread, before subscribers
        are offered the event, for every event published in this process (in-process bus
        only: with Redis, events arrive through ``subscribe``). Returns the way to stop."""

        def stop() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        with self._lock:
            self._listeners.append(listener)
        return stop

    def subscribe(self) -> Subscription:
        return Subscription(self)

    def _redis_client(self) -> RawRedis:
        client = self._redis
        if client is None:
            with self._lock:
                if self._redis is None:
                    assert self.redis_url is not None
                    self._redis = RawRedis(self.redis_url)
                client = self._redis
        return client

    def _add(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.add(sub)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        with self._lock:
            client, self._redis = self._redis, None
        if client is not None:
            client.close()


_buses: dict[tuple[str | None, str], EventBus] = {}
_buses_lock = threading.Lock()


def event_bus_for(settings: Settings) -> EventBus:
    """The process-wide bus for these settings (the embedded worker and the API share it)."""
    key = (settings.queue_url, settings.queue_name)
    with _buses_lock:
        if key not in _buses:
            _buses[key] = EventBus(settings)
        return _buses[key]


async def iter_events(bus: EventBus) -> AsyncIterator[tuple[Event, str | None]]:
    """Convenience generator over a fresh subscription."""
    async with bus.subscribe() as events:
        async for item in events:
            yield item
