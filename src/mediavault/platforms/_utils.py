"""Helpers shared by the native platform adapters (creator sites and TikTok).

The one place where a platform's HTTP answers become mediavault errors
(:func:`request_json`), tolerant readers for the loosely typed JSON those platforms
return, and the user's credentials (``auth.json`` style) as a typed value.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediavault.errors import (
    CredentialsInvalidError,
    CredentialsMissingError,
    ExtractionError,
    HTTPStatusError,
    InputError,
    MediavaultError,
    NetworkError,
    RateLimitedError,
    is_retryable,
)
from mediavault.net.retry import RETRYABLE_STATUSES, parse_retry_after

if TYPE_CHECKING:
    from mediavault.net.session import HttpSession

__all__ = [
    "PlatformAuth",
    "as_bool",
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "cookie_value",
    "dig",
    "load_credentials_file",
    "parse_timestamp",
    "request_json",
    "title_from",
    "upload_date",
]

_AUTH_ALIASES = {
    "cookie": ("cookie", "cookies", "auth_cookie"),
    "user_agent": ("user_agent", "user-agent", "useragent", "ua"),
    "token": ("token", "x_bc", "x-bc", "authorization", "auth_token", "api_token"),
}


@dataclass(frozen=True)
class PlatformAuth:
    """The user's own session for one platform. ``repr`` never shows the secrets."""

    cookie: str
    user_agent: str
    token: str | None = None

    def __repr__(self) -> str:
        return f"PlatformAuth(cookie=<{len(self.cookie)} chars>, token={self.token is not None})"

    @classmethod
    def from_mapping(
        cls, platform: str, data: Mapping[str, Any], *, need_token: bool
    ) -> PlatformAuth:
        """Read auth.json style keys (``cookie``, ``user_agent``/``user-agent``, ``x_bc``)."""
        if isinstance(data.get("auth"), Mapping):
            data = data["auth"]
        found: dict[str, str] = {}
        for field, names in _AUTH_ALIASES.items():
            for name in names:
                value = data.get(name)
                if isinstance(value, str) and value.strip():
                    found[field] = value.strip()
                    break
        missing = [f for f in ("cookie", "user_agent") if f not in found]
        if need_token and "token" not in found:
            missing.append("token")
        if missing:
            raise CredentialsMissingError(
                f"{platform} credentials lack {', '.join(missing)}; set them with "
                f"`mediavault credentials set {platform} --cookie ... --user-agent ...`",
                detail={"platform": platform, "missing": missing},
            )
        return cls(found["cookie"], found["user_agent"], found.get("token"))

    @classmethod
    def for_platform(
        cls, credentials: Mapping[str, Any], platform: str, *, need_token: bool = False
    ) -> PlatformAuth:
        data = credentials.get(platform)
        if not isinstance(data, Mapping):
            raise CredentialsMissingError(
                f"no {platform} credentials; this platform needs your own session "
                f"(cookie and user agent)",
                detail={"platform": platform},
            )
        return cls.from_mapping(platform, data, need_token=need_token)


def load_credentials_file(path: str | Path) -> dict[str, dict[str, str]]:
    """Platform -> auth dict from a JSON file in the UltimaScraper ``auth.json`` style.

    Accepted shapes: ``{"onlyfans": {"auth": {...}}, "fansly": {...}}`` or, for one
    platform, ``{"platform": "onlyfans", "auth": {...}}``.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read credentials file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InputError(f"credentials file {path} must hold a JSON object")
    if isinstance(raw.get("platform"), str) and isinstance(raw.get("auth"), dict):
        raw = {raw["platform"]: raw["auth"]}
    out: dict[str, dict[str, str]] = {}
    for platform, data in raw.items():
        if not isinstance(data, dict):
            raise InputError(f"credentials for {platform!r} in {path} must be an object")
        inner = data["auth"] if isinstance(data.get("auth"), dict) else data
        out[str(platform).lower()] = {str(k): str(v) for k, v in inner.items() if v is not None}
    return out


def cookie_value(cookie_header: str, name: str) -> str | None:
    """The value of cookie ``name`` inside an ``a=b; c=d`` header string."""
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return None


def _platform_message(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:200] or None
    for path in (("error", "message"), ("error",), ("message",), ("response", "error")):
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


async def request_json(
    session: HttpSession,
    url: str,
    *,
    platform: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
) -> Any:
    """One platform API call, decoded. The single place a platform's answers become ours:

    401/403 -> ``CredentialsInvalidError`` carrying the platform's own message; 429 and
    5xx are retried with the session's policy (honouring ``Retry-After``), then 429 ->
    ``RateLimitedError``; network errors are retried the same way.
    """
    kwargs: dict[str, Any] = {"headers": dict(headers or {})}
    if params:
        kwargs["params"] = {k: v for k, v in params.items() if v is not None}
    if json_body is not None:
        kwargs["json"] = json_body
    policy = session.retry
    attempt = 0
    while True:
        attempt += 1
        try:
            async with session.stream(method, url, raise_for_status=False, **kwargs) as response:
                body = await response.aread()
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except NetworkError as exc:
            if attempt >= policy.attempts or not is_retryable(exc):
                raise
            await asyncio.sleep(policy.delay(attempt, None))
            continue
        if status < 400:
            try:
                return json.loads(body)
            except ValueError as exc:
                raise ExtractionError(
                    f"{platform} answered {url} with something that is not JSON"
                ) from exc
        retryable = status in RETRYABLE_STATUSES
        if retryable and attempt < policy.attempts and not policy.gives_up_on(retry_after):
            await asyncio.sleep(policy.delay(attempt, retry_after))
            continue
        raise _status_error(platform, url, status, body, retry_after)


def _status_error(
    platform: str, url: str, status: int, body: bytes, retry_after: float | None
) -> MediavaultError:
    message = _platform_message(body)
    if status in (401, 403):
        return CredentialsInvalidError(
            f"{platform} rejected the session credentials"
            + (f": {message}" if message else f" (HTTP {status})"),
            detail={"platform": platform, "status": status, "message": message},
        )
    if status == 429:
        return RateLimitedError(
            f"{platform} is rate limiting this account; try again later",
            retry_after=retry_after,
            detail={"platform": platform},
        )
    if status == 404:
        return ExtractionError(
            f"{platform}: not found ({url})" + (f": {message}" if message else ""),
            detail={"platform": platform, "status": 404},
        )
    return HTTPStatusError(
        f"{platform} answered HTTP {status}" + (f": {message}" if message else ""),
        status_code=status,
        url=url,
        retry_after=retry_after,
    )


def dig(data: Any, *path: str | int, default: Any = None) -> Any:
    """Tolerant nested lookup: ``dig(post, "media", 0, "files", "full", "url")``."""
    for key in path:
        in_list = isinstance(key, int) and isinstance(data, list) and -len(data) <= key < len(data)
        if in_list or (isinstance(key, str) and isinstance(data, dict) and key in data):
            data = data[key]
        else:
            return default
    return default if data is None else data


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_bool(value: Any) -> bool:
    """Platform booleans: ``true``, ``1``, ``"1"``, ``"true"`` (``"0"``/``"false"`` are False)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object, or one sent as a JSON string (Fansly's ``metadata``); else ``{}``.

    PHP back ends send an empty object as ``[]``; that is ``{}`` here too."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A JSON array; ``None`` (or any other shape) is ``[]``."""
    return value if isinstance(value, list) else []


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds (or ms), a numeric string, or ISO-8601 -> epoch seconds."""
    number = as_float(value)
    if number is not None:
        return number / 1000.0 if number > 10**11 else number
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def upload_date(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y%m%d")


_TAGS = re.compile(r"<[^>]+>")


def title_from(text: Any, fallback: str, *, limit: int = 80) -> str:
    """A one-line title from a post's text (HTML stripped), or ``fallback``."""
    if not isinstance(text, str):
        return fallback
    line = " ".join(_TAGS.sub(" ", text).split())
    if not line:
        return fallback
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
