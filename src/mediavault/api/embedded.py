"""The embedded worker of ``mediavault serve``, run in a child process.

Still "embedded" for the user (one command, no extra services), but its transfers,
progress writes and post-processing no longer share the API's event loop and GIL, so
request latency stays flat while downloads run.

    worker = WorkerProcess(settings)
    await worker.run(stop)          # until ``stop`` is set; restarts a crashed child

Plumbing between the two processes:

- job events (progress, started, completed...) published in the child are relayed over
  a pipe and re-published on the API's in-process bus, so SSE/WebSocket clients and
  webhooks see them exactly as before (with ``queue_url=redis://`` they already travel
  over Redis, and the relay is off);
- the child runs at a lower CPU priority (``embedded_worker_nice``, default 10; ffmpeg
  and other programs it starts inherit it): when both want the CPU the API answers
  first, and CPU-heavy work (fast transfers, post-processing) takes the CPU back as soon
  as the API is idle; throttled downloads need little CPU and see no difference;
- the child holds the read end of a second pipe the parent never writes to: when the
  parent closes it (graceful stop) or dies (even by SIGKILL) the child sees EOF and
  stops, giving its running jobs back to the queue as ``mediavault worker`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from mediavault.config import Settings
from mediavault.jobs.events import EventBus, Subscription, event_bus_for
from mediavault.models import Event

__all__ = ["WorkerProcess"]

log = logging.getLogger("mediavault.serve")

RESTART_DELAY = 1.0  # after the child died unexpectedly
STOP_TIMEOUT = 30.0  # a graceful stop gives running jobs back well within this
KILL_TIMEOUT = 5.0


class WorkerProcess:
    """Start, relay and supervise the embedded worker child."""

    def __init__(self, settings: Settings, *, concurrency: int | None = None) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.bus: EventBus = event_bus_for(settings)
        self.restarts = 0
        self.process: BaseProcess | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Keep one child running until ``stop`` is set, then stop it gracefully."""
        while not stop.is_set():
            process, alive, relay = self._start()
            exited = False
            try:
                exited = await _first_of(stop, _process_exit(process))
            finally:
                alive.close()  # the child's cue to stop (EOF on its pipe)
                code = await asyncio.to_thread(_reap, process)
                await asyncio.to_thread(relay.join, KILL_TIMEOUT)
            if exited and not stop.is_set():
                self.restarts += 1
                log.error(
                    "embedded worker exited with code %s; restarting in %.0f s",
                    code,
                    RESTART_DELAY,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RESTART_DELAY)

    def _start(self) -> tuple[BaseProcess, Connection, threading.Thread]:
        ctx = multiprocessing.get_context("spawn")  # no inherited loop, threads or locks
        events_r, events_w = ctx.Pipe(duplex=False)
        alive_r, alive_w = ctx.Pipe(duplex=False)
        relay_events = self.bus.redis_url is None
        process = ctx.Process(
            target=child_main,
            args=(self.settings, self.concurrency, events_w if relay_events else None, alive_r),
            name="mediavault-worker",
            daemon=False,
        )
        process.start()
        events_w.close()  # the parent keeps only its own ends
        alive_r.close()
        self.process = process
        relay = threading.Thread(
            target=_relay, args=(events_r, self.bus), name="mediavault-event-relay", daemon=True
        )
        relay.start()
        log.info("embedded worker started (pid %s)", process.pid)
        return process, alive_w, relay


async def _first_of(stop: asyncio.Event, exited: asyncio.Future[None]) -> bool:
    """Wait for ``stop`` or the exit; True when the process exited first."""
    stop_task = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Future[object]] = {stop_task, exited}  # type: ignore[arg-type]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    stop_task.cancel()
    if not exited.done():
        exited.cancel()
        return False
    return True


def _process_exit(process: BaseProcess) -> asyncio.Future[None]:
    """A future resolved when ``process`` exits (its sentinel fd becomes readable)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    sentinel = process.sentinel

    def ready() -> None:
        loop.remove_reader(sentinel)
        if not future.done():
            future.set_result(None)

    loop.add_reader(sentinel, ready)
    future.add_done_callback(lambda _f: loop.remove_reader(sentinel))
    return future


def _reap(process: BaseProcess) -> int | None:
    """Wait for a stopping child (escalating to SIGTERM, then SIGKILL, if it hangs);
    its exit code."""
    process.join(STOP_TIMEOUT)
    if process.is_alive():
        log.warning("embedded worker did not stop in %.0f s: terminating", STOP_TIMEOUT)
        process.terminate()
        process.join(KILL_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join(KILL_TIMEOUT)
    code = process.exitcode
    process.close()
    return code


def _relay(conn: Connection, bus: EventBus) -> None:
    """Parent side: re-publish the child's events on this process's bus until EOF."""
    with conn:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            try:
                body = json.loads(data)
                event = Event.model_validate(body["event"])
            except (ValueError, KeyError, TypeError):
                log.exception("embedded worker sent a malformed event")
                continue
            bus.publish_local(event, user_id=body.get("user_id"))


# the child ----------------------------------------------------------------------------


def child_main(
    settings: Settings, concurrency: int | None, events: Connection | None, alive: Connection
) -> None:
    """Entry point of the child process."""
    if settings.embedded_worker_nice:  # the API first when both want the CPU
        os.nice(settings.embedded_worker_nice)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(_child(settings, concurrency, events, alive))


async def _child(
    settings: Settings, concurrency: int | None, events: Connection | None, alive: Connection
) -> None:
    from mediavault.jobs.engine import Engine
    from mediavault.jobs.worker import run_worker

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def watch_parent() -> None:
        with contextlib.suppress(EOFError, OSError):
            alive.recv_bytes()  # the parent never writes: this returns on close or death
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_parent, name="mediavault-parent-watch", daemon=True).start()
    engine = await asyncio.to_thread(Engine.open, settings, migrate=False)
    forward = None
    if events is not None:
        subscription = engine.events.subscribe()  # subscribed before any job runs
        forward = asyncio.create_task(_forward(subscription, events))
    try:
        await run_worker(settings, concurrency=concurrency, stop=stop, engine=engine)
    finally:
        if forward is not None:
            forward.cancel()
            await asyncio.gather(forward, return_exceptions=True)
        if events is not None:
            events.close()
        engine.close()


async def _forward(subscription: Subscription, conn: Connection) -> None:
    """Child side: send every event this process publishes to the parent."""
    try:
        async for event, user_id in subscription:
            payload = json.dumps({"event": event.model_dump(mode="json"), "user_id": user_id})
            try:
                await asyncio.to_thread(conn.send_bytes, payload.encode())
            except (BrokenPipeError, OSError):  # the parent is gone: the watcher stops us
                return
    finally:
        await subscription.aclose()
