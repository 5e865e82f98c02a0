"""The worker: pull job ids, claim, run the handler under a heartbeat, record the outcome.

    python -m mediavault.jobs.worker [--concurrency N]     (same as `mediavault worker`)

At most ``concurrency`` jobs run at once per worker, and at most
``settings.host_concurrency`` per host across all workers (``HostLimiter``); a job and
its host slot are claimed in one transaction. Whenever slots are free, one queue round
trip pops as many ids as there are free slots and they are claimed at once
(``Engine.take``; on PostgreSQL one statement claims all that need no host slot); jobs
that end together are recorded together (``JobStore.complete``). On PostgreSQL + Redis
all of this runs on the worker's event loop with connections of its own (``HotPath``,
``jobs/_aiohot.py``), and a job's slot is free as soon as its completion is queued: the
take that fills the slot writes the completion and the new claim in one statement
(``jobs/_hottake.py``). One supervisor loop
per worker, independent of the transfers, renews all its leases (and host slots) with one UPDATE
every ``heartbeat_seconds``, flushes progress (≤ 4/s per job) and turns a cancel
request into ``ctx.cancel`` and, after a short grace, cancellation of the handler task.
Each worker also runs the reaper (safe with any number of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mediavault.config import Settings, get_settings
from mediavault.errors import (
    CancelledError_,
    LeaseLostError,
    MediavaultError,
    SkippedError,
    is_retryable,
)
from mediavault.jobs._hottake import HotTaker
from mediavault.jobs.engine import Claim, Engine
from mediavault.jobs.handlers import (
    HandlerSpec,
    JobContext,
    handler_for,
    load_handlers,
    plain_kinds,
)
from mediavault.jobs.reaper import Reaper
from mediavault.jobs.store import backoff_delay
from mediavault.jobs.tables import Job

__all__ = ["Worker", "main", "run_worker"]

log = logging.getLogger("mediavault.worker")

PROGRESS_INTERVAL = 0.25  # ≤ 4 progress writes/events per second per job
CANCEL_GRACE = 0.5  # after ctx.cancel is set, the handler task is cancelled this much later
TAKE_RETRY_SECONDS = 1.0  # after the queue or the database failed to give jobs


class _Supervision:
    """A running job as the worker's supervisor loop sees it, and what it learned."""

    def __init__(
        self, ctx: JobContext, handler: asyncio.Task[dict[str, Any]], slot: int | None
    ) -> None:
        self.ctx = ctx
        self.handler = handler
        self.slot = slot
        self.lease_lost = False
        self.cancel_requested = False
        self.cancel_at: float | None = None

    def lose_lease(self) -> None:
        self.lease_lost = True
        self.ctx.cancel.set()
        self.handler.cancel()


class Worker:
    def __init__(
        self,
        engine: Engine,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
        run_reaper: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.store = engine.store
        self.concurrency = concurrency or self.settings.worker_concurrency
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.run_reaper = run_reaper
        self._closing = False
        self._running: dict[str, _Supervision] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[None]] = set()
        self._dequeue_pool = ThreadPoolExecutor(1, thread_name_prefix="mediavault-dequeue")
        self._plain_kinds: frozenset[str] = frozenset()
        self._hot: HotTaker | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set; then give running jobs back to the queue."""
        load_handlers(self.settings)
        self._plain_kinds = plain_kinds()
        self._hot = HotTaker.open(self.engine, self.worker_id, self._plain_kinds,
                                  self._dequeue_pool, _host_limited)
        stop = stop or asyncio.Event()
        reaper = asyncio.create_task(Reaper(self.engine).run(stop)) if self.run_reaper else None
        scheduler = self._start_scheduler(stop) if self.run_reaper else None
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        try:
            if self._hot is not None:  # while the reaper and the scheduler make their first tick
                await self._hot.connect()
            while not stop.is_set():
                if not await _acquire_unless_stopped(slots, stop):
                    break  # all slots busy until stop: do not wait for a job to finish
                held = 1
                while not slots.locked():  # every free slot: one pop can fill them all
                    await slots.acquire()
                    held += 1
                claims = await self._take(held, stop)
                for _ in range(held - len(claims)):
                    slots.release()
                for claim in claims:  # claimed while stopping: _execute gives them back
                    free_slot = _once(slots.release)  # at the end, or once its outcome is queued
                    task = asyncio.create_task(self._run_guarded(claim, free_slot))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(functools.partial(_call_ignoring, free_slot))
        finally:
            await self._shut_down(tasks, [t for t in (reaper, scheduler) if t is not None], stop)

    async def _shut_down(
        self,
        tasks: set[asyncio.Task[None]],
        helpers: list[asyncio.Task[None]],
        stop: asyncio.Event,
    ) -> None:
        """Cancel running jobs (they are given back), then stop the reaper and scheduler."""
        self._closing = True
        if self._hot is not None:
            self._hot.release()  # no more takes: completions are written at once
        for sup in list(self._running.values()):
            sup.ctx.cancel.set()
            sup.handler.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        for later in list(self._later):
            later.cancel()
        if helpers:
            stop.set()
            await asyncio.gather(*helpers, return_exceptions=True)
        self._dequeue_pool.shutdown(wait=False)
        if self._hot is not None:
            await self._hot.close()

    async def _take(self, limit: int, stop: asyncio.Event) -> list[Claim]:
        """Up to ``limit`` jobs popped and claimed (``Engine.take``), on the dequeue thread.

        One queue round trip takes as many ids as there are free slots; jobs that turn out
        not runnable (taken, not due, cancelled, host full) are left out. When the queue
        or the database is unavailable, wait a moment: the reaper re-sends what was lost.
        """
        try:
            if self._hot is not None:
                claims = await self._hot.take(limit)
            else:
                take = functools.partial(
                    self.engine.take, self.worker_id, limit, 0.5, _host_limited, self._plain_kinds
                )
                loop = asyncio.get_running_loop()
                claims = await loop.run_in_executor(self._dequeue_pool, take)
        except Exception:
            log.exception("taking jobs failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TAKE_RETRY_SECONDS)
            return []
        return [claim for claim in claims if claim.job is not None]

    async def _complete(
        self, job: Job, token: str, result: dict[str, Any], free_slot: Callable[[], None]
    ) -> None:
        """Record a completion. On the hot path the job's slot is free once the completion
        is queued: the take that fills the slot writes the completion with its claim."""
        if self._hot is None:
            await self.store.complete(job.id, token, result)
        else:
            await self._hot.complete(job.id, token, result, free_slot)

    def _start_scheduler(self, stop: asyncio.Event) -> asyncio.Task[None] | None:
        """Due subscriptions -> sync jobs (``mediavault.subscriptions``), beside the reaper."""
        try:
            from mediavault.subscriptions.scheduler import start_scheduler
        except ModuleNotFoundError:
            return None
        return start_scheduler(self.engine, stop)

    async def _run_guarded(self, claim: Claim, free_slot: Callable[[], None]) -> None:
        job = claim.job
        assert job is not None
        try:
            await self.run_claimed(job, claim.slot, free_slot=free_slot)
        except Exception:  # a bug or the database went away: the reaper heals the job
            log.exception("job %s: worker error", job.id)

    async def _send_later(self, job: Job, delay: float) -> None:
        """Dispatch a retry when it is due (the reaper does it if this worker is gone)."""
        await asyncio.sleep(delay)
        await self.engine.send([job])

    async def run_claimed(
        self, job: Job, slot: int | None, *, free_slot: Callable[[], None] = lambda: None
    ) -> None:
        """Run a job this worker claimed (holding ``slot`` of its host) and record the outcome.

        ``free_slot`` is called when the handler has ended and its completion is queued
        (``_complete``): the next take may start then, and write that completion.
        """
        token = job.lease_token
        if token is None:
            return
        try:
            try:
                spec = handler_for(job.kind)
            except MediavaultError as exc:
                await self.store.fail(job.id, token, exc)
                return
            await self._execute(job, token, spec, slot, free_slot)
        finally:
            if slot is not None and job.host:
                await self.engine.limits.release(job.host, slot, job.id)
                await self.engine.wake_host(job.host)

    async def _execute(
        self,
        job: Job,
        token: str,
        spec: HandlerSpec,
        slot: int | None,
        free_slot: Callable[[], None],
    ) -> None:
        if self._closing:  # claimed while shutting down: give it straight back
            await self.store.release(job.id, token)
            await self.engine.send([job])
            return
        ctx = JobContext(job, token, self.engine)
        if job.attempts > 1:
            await ctx.log(f"attempt {job.attempts}/{job.max_attempts} on {self.worker_id}")
        handler = asyncio.create_task(spec.fn(ctx))
        seen = self._running[job.id] = _Supervision(ctx, handler, slot)
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._supervise())
        try:
            await asyncio.wait({handler})
        finally:
            self._running.pop(job.id, None)
        if seen.lease_lost:
            log.warning("job %s: lease lost; its new owner records the outcome", job.id)
            return
        try:
            await self._record(ctx, handler, seen, free_slot)
        except LeaseLostError:
            log.warning("job %s: lease lost before the outcome was recorded", job.id)
            return
        if job.parent_id:
            await self.store.refresh_parent(job.parent_id)

    async def _supervise(self) -> None:
        """One loop for every running job of this worker (no task or thread per job).

        Flushes progress (≤ 4/s per job), renews all leases and host slots with one
        UPDATE each per heartbeat, and turns a cancel request into ``ctx.cancel`` and,
        after a short grace, cancellation of the handler task.
        """
        beat_every = self.settings.heartbeat_seconds
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(min(PROGRESS_INTERVAL, beat_every))
            running = [sup for sup in self._running.values() if not sup.handler.done()]
            flushed = await asyncio.gather(
                *(self._flush_progress(sup) for sup in running), return_exceptions=True
            )
            for error in flushed:
                if isinstance(error, Exception):
                    log.error("progress write failed", exc_info=error)
            try:
                if time.monotonic() - last_beat >= beat_every:
                    last_beat = time.monotonic()
                    await self._heartbeat(running)
            except Exception:  # the database blinked: keep going, the lease has slack
                log.exception("heartbeat failed")
            now = time.monotonic()
            for sup in running:
                if sup.cancel_requested and sup.cancel_at is None:
                    sup.ctx.cancel.set()
                    sup.cancel_at = now + CANCEL_GRACE
                if sup.cancel_at is not None and now >= sup.cancel_at:
                    sup.handler.cancel()

    async def _flush_progress(self, sup: _Supervision) -> None:
        progress = sup.ctx.take_progress()
        if progress is None:
            return
        try:
            await self.store.report_progress(sup.ctx.job.id, sup.ctx.token, progress)
        except LeaseLostError:
            if not sup.handler.done():  # done: the outcome is being recorded
                sup.lose_lease()

    async def _heartbeat(self, running: list[_Supervision]) -> None:
        leases = {sup.ctx.job.id: sup.ctx.token for sup in running}
        slot_jobs = [sup.ctx.job.id for sup in running if sup.slot is not None]
        held = await self.store.heartbeat_many(leases, slot_jobs)
        for sup in running:
            if sup.handler.done():
                continue
            cancel = held.get(sup.ctx.job.id)
            if cancel is None:
                sup.lose_lease()
            elif cancel:
                sup.cancel_requested = True

    async def _record(
        self,
        ctx: JobContext,
        handler: asyncio.Task[dict[str, Any]],
        seen: _Supervision,
        free_slot: Callable[[], None],
    ) -> None:
        job, token = ctx.job, ctx.token
        error = CancelledError_("cancelled") if handler.cancelled() else handler.exception()
        if error is None:
            result = dict(handler.result())
            if ctx.waiting_for_children is not None:
                await self.store.wait_for_children(job.id, token, ctx.waiting_for_children)
                await self.store.refresh_parent(job.id)
            else:
                await self._complete(job, token, result, free_slot)
            return
        if seen.cancel_requested or (
            isinstance(error, CancelledError_) and not self._closing
        ):
            await self.store.finish_cancelled(job.id, token)
            await self.store.request_cancel(job.id)  # children it created meanwhile
            await ctx.log("cancelled")
            return
        if self._closing:
            await self.store.release(job.id, token)
            await self.engine.send([job])
            return
        await self._record_error(ctx, error)

    async def _record_error(self, ctx: JobContext, error: BaseException) -> None:
        job, token = ctx.job, ctx.token
        if isinstance(error, SkippedError):
            detail = error.detail if isinstance(error.detail, dict) else {}
            result = {"reason": error.code, "message": error.message, **detail}
            await self.store.complete(job.id, token, result, skipped=True)
            return
        if not isinstance(error, MediavaultError):
            log.error("job %s: unexpected error", job.id, exc_info=error)
            error = MediavaultError(f"{type(error).__name__}: {error}")
        assert isinstance(error, MediavaultError)
        await ctx.log(f"{error.code}: {error.message}", level="error")
        if is_retryable(error) and job.attempts < job.max_attempts:
            retry_after = getattr(error, "retry_after", None)
            delay = backoff_delay(self.settings, job.attempts, retry_after)
            await self.store.retry_later(job.id, token, error, delay)
            await ctx.log(f"retrying in {delay:.3f}s")
            later = asyncio.create_task(self._send_later(job, delay))
            self._later.add(later)
            later.add_done_callback(self._later.discard)
            return
        await self.store.fail(job.id, token, error)


def _call_ignoring(fn: Callable[[], None], _task: object) -> None:
    fn()


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn``, called at most once however often this is."""
    called = False

    def call() -> None:
        nonlocal called
        if not called:
            called = True
            fn()

    return call


def _host_limited(kind: str) -> bool:
    try:
        return handler_for(kind).host_limited
    except MediavaultError:
        return False  # unknown kind: claimed only to be failed


async def _acquire_unless_stopped(slots: asyncio.Semaphore, stop: asyncio.Event) -> bool:
    """Take a slot, or give up when ``stop`` is set first (False: no slot held)."""
    acquire = asyncio.create_task(slots.acquire())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not acquire.done():
        acquire.cancel()
        await asyncio.gather(acquire, return_exceptions=True)
    if acquire.cancelled() or acquire.exception() is not None:
        return False
    if stop.is_set():
        slots.release()
        return False
    return True


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
) -> None:
    """Run a worker (with its reaper) until ``stop`` is set or SIGINT/SIGTERM arrives."""
    own = engine is None
    engine = engine or Engine.open(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(engine, concurrency=concurrency).run(stop)
    finally:
        if own:
            engine.close()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mediavault.jobs.worker")
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_worker(get_settings(), concurrency=args.concurrency))


if __name__ == "__main__":
    main()
