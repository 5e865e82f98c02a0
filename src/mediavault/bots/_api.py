"""The bot's view of the mediavault REST API (``/api/v1``): submit jobs, read them, fetch files.

    async with ServiceClient(settings) as api:
        job = await api.download("https://example.com/v/1")
        job = await api.job(job["id"])

Jobs are the API's ``JobPublic`` JSON objects (plain dicts: the bot only reads a few
fields). An error answer (``{"error": {"code", "message", "detail"}}``) becomes
:class:`ServiceError` carrying the service's code; an unreachable service becomes
``ServiceError`` with code ``service_unavailable``. The API key goes in ``X-API-Key`` and
is never part of a message or log line.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import unquote

import httpx

from mediavault.config import Settings
from mediavault.errors import MediavaultError

__all__ = ["FileInfo", "ServiceClient", "ServiceError"]

API_PREFIX = "/api/v1"
_FILENAME_STAR = re.compile(r"filename\*=(?:UTF-8'')?([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename="?([^";]+)"?', re.IGNORECASE)
CHUNK = 256 * 1024


class ServiceError(MediavaultError):
    """The mediavault service refused or failed a request; ``remote_code`` is its code."""

    code: ClassVar[str] = "service_error"
    expected: ClassVar[bool] = True
    http_status: ClassVar[int] = 502

    def __init__(self, message: str, *, remote_code: str, status: int | None = None) -> None:
        super().__init__(message, detail={"code": remote_code, "status": status})
        self.remote_code = remote_code
        self.status = status


@dataclass(frozen=True, kw_only=True)
class FileInfo:
    """A job's stored file as the service announces it (before or after fetching it)."""

    name: str
    size: int | None
    content_type: str
    path: Path | None = None  # set once the file is on local disk


def _error_from(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = f"http_{response.status_code}", response.reason_phrase or "error"
    return ServiceError(message, remote_code=code, status=response.status_code)


def _filename(response: httpx.Response, fallback: str) -> str:
    header = response.headers.get("Content-Disposition", "")
    match = _FILENAME_STAR.search(header) or _FILENAME.search(header)
    name = unquote(match.group(1).strip()) if match else fallback
    return Path(name).name or fallback


class ServiceClient:
    """An async client of one mediavault service (``settings.bot_api_url``)."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        headers = {"Accept": "application/json", "User-Agent": "mediavault-telegram-bot"}
        if settings.bot_api_key is not None:
            headers["X-API-Key"] = settings.bot_api_key.get_secret_value()
        self.base_url = settings.bot_api_url.rstrip("/")
        self.public_url = (settings.bot_public_url or settings.bot_api_url).rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            follow_redirects=False,
        )

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"mediavault service at {self.base_url} is unreachable ({type(exc).__name__})",
                remote_code="service_unavailable",
            ) from exc
        if response.is_error:
            raise _error_from(response)
        return response.json()

    # jobs --------------------------------------------------------------------------------

    async def download(self, url: str, **options: Any) -> dict[str, Any]:
        return dict(await self._request("POST", "/download", json={"url": url, **options}))

    async def playlist(self, url: str, **options: Any) -> dict[str, Any]:
        body = {"url": url, **options}
        return dict(await self._request("POST", "/playlist/download", json=body))

    async def scrape(self, url: str, **options: Any) -> dict[str, Any]:
        return dict(await self._request("POST", "/profiles/scrape", json={"url": url, **options}))

    async def job(self, job_id: str) -> dict[str, Any]:
        return dict(await self._request("GET", f"/jobs/{_segment(job_id)}"))

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(await self._request("DELETE", f"/download/{_segment(job_id)}"))

    async def jobs(self, *, limit: int = 10) -> list[dict[str, Any]]:
        page = await self._request("GET", "/jobs", params={"top_level": "true", "limit": limit})
        return list(page["items"])

    async def children(self, parent_id: str) -> list[dict[str, Any]]:
        """Every child job of a parent (all pages), oldest first."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"parent_id": parent_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = await self._request("GET", "/jobs", params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return sorted(items, key=lambda job: (job["created_at"], job["id"]))

    # files -------------------------------------------------------------------------------

    def file_link(self, job: dict[str, Any], index: int = 0) -> str:
        """Where a user can fetch a job's file themselves (``bot_public_url``)."""
        link = f"{self.public_url}{API_PREFIX}/download/{job['id']}/file"
        return f"{link}?index={index}" if index else link

    @asynccontextmanager
    async def _file_response(self, job_id: str, index: int) -> AsyncIterator[httpx.Response]:
        path = f"/download/{_segment(job_id)}/file"
        params = {"index": index} if index else None
        try:
            async with self._client.stream("GET", path, params=params) as response:
                if response.is_error:
                    await response.aread()
                    raise _error_from(response)
                yield response
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"fetching the file of job {job_id} failed ({type(exc).__name__})",
                remote_code="service_unavailable",
            ) from exc

    async def fetch_file(
        self, job_id: str, directory: Path, *, max_size: int, index: int = 0
    ) -> FileInfo:
        """Save a job's file number ``index`` into ``directory`` unless it is larger than
        ``max_size``. A file over the limit is not transferred: the returned info has
        ``path=None``.
        """
        async with self._file_response(job_id, index) as response:
            name = _filename(response, f"{job_id}.bin")
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            if size is not None and size > max_size:
                return FileInfo(name=name, size=size, content_type=content_type)
            path = directory / name
            written = 0
            with path.open("wb") as fh:
                async for chunk in response.aiter_bytes(CHUNK):
                    written += len(chunk)
                    if written > max_size:  # no Content-Length and too big: stop reading
                        break
                    fh.write(chunk)
            if written > max_size:
                path.unlink(missing_ok=True)
                return FileInfo(name=name, size=written, content_type=content_type)
            return FileInfo(name=name, size=written, content_type=content_type, path=path)


def _segment(job_id: str) -> str:
    """A job id as one path segment (ids are user-typed in /status and /cancel)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", job_id):
        raise ServiceError(f"not a job id: {job_id[:70]!r}", remote_code="invalid_input")
    return job_id
