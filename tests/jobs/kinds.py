"""Tiny job kinds for engine tests, loaded by workers via ``job_handler_modules``.

Every run appends ``<job id> <attempt> <worker pid>`` to ``<data dir>/runs.log`` (one
O_APPEND write, safe across processes), so tests can prove nothing ran twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx

from mediavault.errors import CancelledError_, HTTPStatusError, NotFoundError, UnsupportedURLError
from mediavault.jobs.handlers import JobContext, register_handler
from mediavault.models import Progress

# in-process observers (the worker threads are ours in in-process tests)
RUNNING: dict[str, int] = {}
MAX_RUNNING: dict[str, int] = {}


def record_run(ctx: JobContext) -> None:
    path = Path(ctx.settings.data_dir) / "runs.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.job.id} {ctx.job.attempts} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def runs(data_dir: Path) -> list[tuple[str, int, int]]:
    path = Path(data_dir) / "runs.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        job_id, attempt, pid = line.split()
        out.append((job_id, int(attempt), int(pid)))
    return out


@register_handler("test_noop", host_limited=False)
async def noop(ctx: JobContext) -> dict[str, Any]:
    record_run(ctx)
    return {"ok": True}


@register_handler("test_sleep", host_limited=True)
async def sleep(ctx: JobContext) -> dict[str, Any]:
    """Sleeps ``payload.seconds`` in steps, reporting progress, honouring cancel."""
    record_run(ctx)
    payload = ctx.job.payload or {}
    seconds = float(payload.get("seconds", 1.0))
    group = str(payload.get("group", ctx.job.host or "-"))
    RUNNING[group] = RUNNING.get(group, 0) + 1
    MAX_RUNNING[group] = max(MAX_RUNNING.get(group, 0), RUNNING[group])
    try:
        steps = max(1, int(seconds / 0.05))
        for i in range(steps):
            if ctx.cancel.is_set() and not payload.get("ignore_cancel"):
                raise CancelledError_("stopped")
            await asyncio.sleep(seconds / steps)
            ctx.progress(Progress(item_id=ctx.job.id, downloaded_bytes=i + 1, total_bytes=steps))
    finally:
        RUNNING[group] -= 1
    return {"slept": seconds}


@register_handler("test_fail", host_limited=False)
async def fail(ctx: JobContext) -> dict[str, Any]:
    """Fails with ``payload.error`` until attempt ``payload.succeed_on`` (0 = never)."""
    record_run(ctx)
    payload = ctx.job.payload or {}
    succeed_on = int(payload.get("succeed_on", 0))
    if succeed_on and ctx.job.attempts >= succeed_on:
        return {"attempt": ctx.job.attempts}
    error = payload.get("error", "503")
    if error == "unsupported":
        raise UnsupportedURLError("no adapter")
    if error == "notfound":
        raise NotFoundError("gone")
    if error == "bug":
        raise ZeroDivisionError("a bug")
    raise HTTPStatusError(status_code=int(error), url="http://127.0.0.1/x")


@register_handler("test_fetch", host_limited=True)
async def fetch(ctx: JobContext) -> dict[str, Any]:
    """Streams ``url`` to ``<data dir>/out/<payload.name>`` via a .part file, resumable."""
    record_run(ctx)
    assert ctx.job.url
    name = str((ctx.job.payload or {}).get("name", ctx.job.id))
    out = Path(ctx.settings.data_dir) / "out"
    out.mkdir(parents=True, exist_ok=True)
    part = out / f"{name}.part"
    start = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", ctx.job.url, headers=headers) as response:
            if response.status_code not in (200, 206):
                raise HTTPStatusError(status_code=response.status_code, url=ctx.job.url)
            if response.status_code == 200:
                start = 0
            total = start + int(response.headers.get("content-length", 0))
            done = start
            with part.open("r+b" if start else "wb") as fh:
                fh.seek(start)
                async for chunk in response.aiter_bytes(65536):
                    if ctx.cancel.is_set():
                        raise CancelledError_("stopped")
                    fh.write(chunk)
                    done += len(chunk)
                    ctx.progress(Progress(item_id=name, downloaded_bytes=done, total_bytes=total))
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    final = out / name
    part.replace(final)
    return {"path": str(final), "sha256": digest, "size": final.stat().st_size}


@register_handler("test_expand", host_limited=False)
async def expand(ctx: JobContext) -> dict[str, Any]:
    """Creates ``payload.count`` test_noop/test_sleep children in pages of ``payload.page``."""
    record_run(ctx)
    payload = ctx.job.payload or {}
    count, page = int(payload.get("count", 10)), int(payload.get("page", 3))
    child_kind = str(payload.get("child", "test_noop"))
    child_payload = payload.get("child_payload", {})
    offset = int((ctx.job.expand_cursor or {}).get("offset", 0))
    while offset < count:
        ctx.check_cancelled()
        await asyncio.sleep(float(payload.get("page_delay", 0)))
        size = min(page, count - offset)
        specs = [
            {"kind": child_kind, "title": f"entry {offset + i}", "payload": child_payload}
            for i in range(size)
        ]
        offset += size
        await ctx.expand(specs, {"offset": offset})
        if payload.get("crash_after") and offset >= int(payload["crash_after"]):
            os._exit(1)  # simulate the worker dying mid-expansion
    return ctx.wait_for_children(count)
