"""How the TikTok adapter reaches TikTok: a browser first, then plain HTTP.

Both strategies answer the same two questions (the profile page's hydration JSON, and one
page of the profile's ``/api/post/item_list/``) and raise ``BotDetectedError`` when they
get a captcha/verification page or an empty answer, which makes the adapter switch.

- ``BrowserStrategy``: Playwright driving the system Chromium (``executable_path``),
  headless, a fresh profile directory; the item list is fetched from inside the page.
  Every request the browser makes is checked against the ``HostPolicy`` (others aborted).
- ``HttpStrategy``: curl_cffi with a browser TLS fingerprint (as yt-dlp impersonates);
  every URL, each redirect hop included, is checked against the ``HostPolicy`` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlencode, urljoin

from mediavault.config import Settings
from mediavault.errors import BotDetectedError, ExtractionError, MediavaultError, NetworkError
from mediavault.net.guard import HostPolicy
from mediavault.platforms._utils import as_int, dig

__all__ = [
    "BrowserStrategy",
    "EndpointMissingError",
    "FetchStrategy",
    "HttpStrategy",
    "check_page",
    "parse_item_list",
    "parse_profile",
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_BOT_MARKERS = re.compile(
    r"captcha|verify-bar|security check|please verify|unusual traffic", re.IGNORECASE
)
_SCRIPT = r'<script[^>]*id="{}"[^>]*>(.*?)</script>'


def check_page(html: str) -> None:
    """Raise ``BotDetectedError`` for a captcha / verification page."""
    has_data = "__UNIVERSAL_DATA_FOR_REHYDRATION__" in html or "SIGI_STATE" in html
    if not html.strip() or (not has_data and _BOT_MARKERS.search(html)):
        raise BotDetectedError("tiktok served a bot-detection (captcha) page")


_PROFILE_STATUS = {
    10221: "this account is banned or was removed",
    10202: "no such account",
    10223: "no such account",
    10222: "this account is private; its videos need a session that follows it",
}


class EndpointMissingError(ExtractionError):
    """The API answered 404 for an endpoint (this API version does not have it)."""


def _lookup(mapping: Any, username: str) -> Any:
    """``mapping[username]``, case-insensitively (TikTok names are; URLs vary)."""
    if not isinstance(mapping, dict):
        return None
    if username in mapping:
        return mapping[username]
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    found = lowered.get(username.lower())
    if found is None and len(mapping) == 1:
        found = next(iter(mapping.values()))
    return found


def parse_profile(html: str, username: str) -> dict[str, Any]:
    """``{"user": {...}, "stats": {...}}`` from a profile page's hydration JSON.

    An account TikTok reports as private, banned or missing (``statusCode``) is an
    ``ExtractionError`` saying so, not a bot detection."""
    check_page(html)
    for script_id in ("__UNIVERSAL_DATA_FOR_REHYDRATION__", "SIGI_STATE"):
        match = re.search(_SCRIPT.format(script_id), html, re.DOTALL)
        if not match:
            continue
        try:
            data = json.loads(match.group(1))
        except ValueError as exc:
            raise ExtractionError("tiktok profile page carries broken JSON") from exc
        if not isinstance(data, dict):
            continue
        status: Any = None
        if script_id == "SIGI_STATE":
            raw_module = data.get("UserModule")
            module: dict[str, Any] = raw_module if isinstance(raw_module, dict) else {}
            user = _lookup(module.get("users"), username)
            stats = _lookup(module.get("stats"), username)
            info: dict[str, Any] = {"user": user, "stats": stats}
            status = dig(data, "UserPage", "statusCode")
        else:
            scope = dig(data, "__DEFAULT_SCOPE__", "webapp.user-detail")
            scope = scope if isinstance(scope, dict) else {}
            raw_info = scope.get("userInfo")
            info = raw_info if isinstance(raw_info, dict) else {}
            status = scope.get("statusCode")
        if isinstance(info.get("user"), dict) and info["user"].get("secUid"):
            if not isinstance(info.get("stats"), dict):
                info["stats"] = info.get("statsV2") if isinstance(info.get("statsV2"), dict) else {}
            return info
        code = as_int(status)
        if code in _PROFILE_STATUS:
            raise ExtractionError(
                f"tiktok @{username}: {_PROFILE_STATUS[code]} (statusCode {code})",
                detail={"statusCode": code},
            )
    raise BotDetectedError("tiktok profile page has no profile data (blocked or empty)")


def parse_item_list(body: str) -> dict[str, Any]:
    if not body.strip():
        raise BotDetectedError("tiktok answered the video list with an empty body")
    try:
        data = json.loads(body)
    except ValueError as exc:
        check_page(body)
        raise ExtractionError("tiktok video list is not JSON") from exc
    if not isinstance(data, dict):
        raise ExtractionError("tiktok video list is not an object")
    items = data.get("itemList")
    if items is not None and not isinstance(items, list):
        raise ExtractionError(
            f"tiktok video list: field 'itemList' is {type(items).__name__}, expected a list"
        )
    code = as_int(data.get("statusCode", data.get("status_code")))
    if code and not items:
        message = data.get("statusMsg") or data.get("status_msg") or ""
        raise ExtractionError(
            f"tiktok refused the video list: statusCode {code}"
            + (f" ({message})" if message else ""),
            detail={"statusCode": code},
        )
    return data


class FetchStrategy(ABC):
    name: str

    def __init__(self, settings: Settings, policy: HostPolicy, headers: dict[str, str]) -> None:
        self.settings = settings
        self.policy = policy
        self.headers = headers

    @property
    def web_base(self) -> str:
        return self.settings.tiktok_web_base.rstrip("/")

    def item_list_url(self, sec_uid: str, cursor: str, *, api: str = "post") -> str:
        """``/api/post/item_list/`` (cursor from the previous answer) or, where that is
        gone, ``/api/creator/item_list/`` (cursor = a time in ms, newest first)."""
        params: dict[str, Any] = {"secUid": sec_uid, "cursor": cursor, "count": 30, "aid": 1988}
        if api == "creator":
            params["type"] = 1  # newest to oldest
        base = self.settings.tiktok_api_base.rstrip("/")
        return f"{base}/api/{api}/item_list/?{urlencode(params)}"

    @abstractmethod
    async def page(self, url: str) -> str: ...

    @abstractmethod
    async def api(self, url: str) -> str: ...

    async def cookies(self) -> dict[str, str]:
        """The cookies TikTok set while the strategy browsed (``tt_chain_token``...): its
        video CDN answers 403 to requests that lack them."""
        return {}

    async def close(self) -> None:  # noqa: B027 - optional
        pass


class HttpStrategy(FetchStrategy):
    name = "http"
    max_redirects = 5

    def __init__(self, settings: Settings, policy: HostPolicy, headers: dict[str, str]) -> None:
        super().__init__(settings, policy, headers)
        self._session: Any = None

    async def _get(self, url: str) -> str:
        from curl_cffi.requests import AsyncSession

        if self._session is None:
            proxy = self.settings.proxy
            self._session = AsyncSession(
                impersonate="chrome",
                proxies={"http": proxy, "https": proxy} if proxy else None,
                timeout=self.settings.read_timeout,
            )
        for _ in range(self.max_redirects + 1):
            await self.policy.check_url(url)
            try:
                response = await self._session.get(url, headers=self.headers, allow_redirects=False)
            except Exception as exc:  # curl_cffi raises its own error types
                raise NetworkError(f"tiktok request failed: {exc}") from exc
            if response.status_code in (301, 302, 303, 307, 308):
                url = urljoin(url, response.headers.get("location", ""))
                continue
            if response.status_code in (403, 429):
                raise BotDetectedError(f"tiktok refused the request (HTTP {response.status_code})")
            if response.status_code == 404:
                raise EndpointMissingError(f"tiktok answered HTTP 404 for {url}")
            if response.status_code >= 400:
                raise ExtractionError(f"tiktok answered HTTP {response.status_code} for {url}")
            return str(response.text)
        raise NetworkError("tiktok: too many redirects")

    async def page(self, url: str) -> str:
        return await self._get(url)

    async def api(self, url: str) -> str:
        return await self._get(url)

    async def cookies(self) -> dict[str, str]:
        if self._session is None:
            return {}
        jar: dict[str, str] = {}
        with contextlib.suppress(Exception):  # curl_cffi's jar API varies by version
            for cookie in self._session.cookies.jar:
                if cookie.value is not None:
                    jar[str(cookie.name)] = str(cookie.value)
        return jar

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None


class BrowserStrategy(FetchStrategy):
    name = "browser"

    def __init__(self, settings: Settings, policy: HostPolicy, headers: dict[str, str]) -> None:
        super().__init__(settings, policy, headers)
        self._playwright: Any = None
        self._context: Any = None
        self._page: Any = None
        self._profile_dir: str | None = None

    async def _ensure(self) -> Any:
        if self._page is not None:
            return self._page
        from playwright.async_api import async_playwright

        self._profile_dir = tempfile.mkdtemp(prefix="mediavault-chromium-")
        try:
            self._playwright = await async_playwright().start()
            self._context = await self._playwright.chromium.launch_persistent_context(
                self._profile_dir,
                executable_path=self.settings.chromium_path or "/usr/bin/chromium",
                headless=True,
                args=CHROMIUM_ARGS,
                user_agent=self.headers.get("User-Agent"),
            )
        except Exception as exc:  # no browser here: the chain falls back to HTTP
            await self.close()
            raise BotDetectedError(f"the browser strategy is unavailable: {exc}") from exc
        await self._context.route("**/*", self._guard)
        self._page = await self._context.new_page()
        return self._page

    async def _guard(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")):
            await route.continue_()
            return
        try:
            await self.policy.check_url(url)
        except MediavaultError:
            await route.abort("blockedbyclient")
            return
        await route.continue_()

    async def page(self, url: str) -> str:
        page = await self._ensure()
        try:
            await page.goto(url, wait_until="domcontentloaded", timeout=self._timeout_ms)
            return str(await page.content())
        except Exception as exc:
            raise BotDetectedError(f"the browser could not load the profile: {exc}") from exc

    async def api(self, url: str) -> str:
        page = await self._ensure()
        await self.policy.check_url(url)
        script = (
            "u => fetch(u, {credentials: 'include'})"
            ".then(async r => [r.status, await r.text()])"
        )
        try:
            answer = await asyncio.wait_for(page.evaluate(script, url), self._timeout_ms / 1000)
        except (TimeoutError, Exception) as exc:
            raise BotDetectedError(f"the browser could not fetch the video list: {exc}") from exc
        status, body = (answer[0], answer[1]) if isinstance(answer, list) else (200, answer)
        if status == 404:
            raise EndpointMissingError(f"tiktok answered HTTP 404 for {url}")
        if status in (403, 429):
            raise BotDetectedError(f"tiktok refused the request (HTTP {status})")
        return str(body)

    async def cookies(self) -> dict[str, str]:
        if self._context is None:
            return {}
        try:
            found = await self._context.cookies()
        except Exception:  # a closed context has none to give
            return {}
        return {str(c["name"]): str(c["value"]) for c in found if "name" in c and "value" in c}

    @property
    def _timeout_ms(self) -> float:
        return (self.settings.connect_timeout + self.settings.read_timeout) * 1000

    async def close(self) -> None:
        for closer in (self._context, self._playwright):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await (closer.close() if closer is self._context else closer.stop())
        self._context = self._playwright = self._page = None
        if self._profile_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._profile_dir, True)
            self._profile_dir = None
