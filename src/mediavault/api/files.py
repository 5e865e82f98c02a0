"""Serving a job's stored file: local files through ``FileResponse`` (Range, If-Range,
multipart ranges, ETag), remote backends (S3) streamed with single-range support."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import FileResponse, StreamingResponse

from mediavault.api.errors import error_response
from mediavault.api.state import Services
from mediavault.errors import ConflictError, NotFoundError
from mediavault.jobs.tables import Job
from mediavault.models import JobStatus

__all__ = [
    "job_file_key",
    "parse_range",
    "result_paths",
    "serve_job_file",
    "serve_key",
]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def job_file_key(job: Job, index: int = 0) -> str:
    """The storage key of a completed job's file number ``index`` (0: the main one)."""
    if job.status != JobStatus.COMPLETED:
        raise ConflictError(f"job {job.id} is {job.status}; its file is served once completed")
    keys = result_paths(job.result)
    if not keys:
        raise NotFoundError(f"job {job.id} has no stored file (kind {job.kind})")
    if index >= len(keys):
        raise NotFoundError(f"job {job.id} stored {len(keys)} file(s); there is no index {index}")
    return keys[index]


def result_paths(result: dict[str, Any] | None) -> list[str]:
    """The stored files of a job result (``{"paths": [...], "items": [...]}``), in order."""
    paths = (result or {}).get("paths") or []
    if not isinstance(paths, list):
        return []
    return [p for p in paths if isinstance(p, str) and p]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_inclusive)`` of a single ``bytes=`` range; None = whole file.

    Raises ``ValueError`` when the range cannot be satisfied.
    """
    match = _RANGE.match((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError("range outside the file")
    return start, end


async def serve_job_file(
    services: Services, job: Job, range_header: str | None, index: int = 0, *, head: bool = False
) -> Response:
    return await serve_key(services, job_file_key(job, index), range_header, head=head)


async def serve_key(
    services: Services, key: str, range_header: str | None, *, head: bool = False
) -> Response:
    """Stream a stored object; local files with full Range/If-Range/ETag support.

    ``head``: the headers alone (a HEAD request), without reading the object."""
    storage = services.storage
    name = PurePosixPath(key).name
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    local = storage.local_path(key)
    if local is not None:
        if not local.is_file():
            raise NotFoundError(f"{key} is no longer in storage")
        return FileResponse(local, media_type=media_type, filename=name)
    if not await storage.exists(key):
        raise NotFoundError(f"{key} is no longer in storage")
    size = await storage.size(key)
    try:
        span = parse_range(range_header, size)
    except ValueError:
        return error_response(
            416,
            "range_not_satisfiable",
            "requested range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    start, end = span if span is not None else (0, size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}",
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    body = storage.open_range(key, start, end) if size and not head else _empty()
    return StreamingResponse(
        body, status_code=206 if span is not None else 200, media_type=media_type, headers=headers
    )


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def _quote(name: str) -> str:
    return quote(name, safe="")
