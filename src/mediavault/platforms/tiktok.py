"""TikTok profiles: profile info and the full video list, newest first, cursor-paged.

Single videos are left to yt-dlp; this adapter covers ``https://www.tiktok.com/@user``.
Requests go through a strategy chain (:mod:`mediavault.platforms._tiktok_fetch`):
the browser first, then plain HTTP with TLS impersonation; on a captcha page, an empty
answer or a refused request the chain switches and retries the same step. Which
strategy served is kept on the adapter (``served_by``, ``strategy_log``), logged, and
recorded on every item (``extra["strategy"]``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Literal, TypeVar

from mediavault.errors import BotDetectedError, ExtractionError
from mediavault.models import Collection, CollectionEntry, Format, MediaItem, Thumbnail
from mediavault.net.guard import HostPolicy
from mediavault.platforms._creator import ext_from_url
from mediavault.platforms._tiktok_fetch import (
    BrowserStrategy,
    EndpointMissingError,
    FetchStrategy,
    HttpStrategy,
    parse_item_list,
    parse_profile,
)
from mediavault.platforms._utils import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    dig,
    title_from,
    upload_date,
)
from mediavault.platforms.base import Adapter, AdapterContext, Cursor, register

__all__ = ["TikTokAdapter"]

log = logging.getLogger("mediavault.platforms.tiktok")
T = TypeVar("T")


@register
class TikTokAdapter(Adapter):
    name = "tiktok"
    pattern = r"https?://(?:www\.|m\.)?tiktok\.com/@(?P<user>[\w.-]+)/?(?:[?#].*)?$"
    example = "https://www.tiktok.com/@example_creator"
    fetches_url: ClassVar[bool] = False
    profiles: ClassVar[bool] = True
    strategies: ClassVar[tuple[type[FetchStrategy], ...]] = (BrowserStrategy, HttpStrategy)

    def __init__(self, url: str, ctx: AdapterContext) -> None:
        super().__init__(url, ctx)
        if self.match is None:
            raise ExtractionError(f"not a TikTok profile URL: {url}")
        self.username = self.match.group("user")
        self.served_by: str | None = None
        self.strategy_log: list[str] = []
        self._index = 0
        self._current: FetchStrategy | None = None
        self._info: dict[str, Any] | None = None
        self._cookies: dict[str, str] = {}

    # the strategy chain ----------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {
            "User-Agent": self.ctx.settings.user_agent,
            "Referer": self.ctx.settings.tiktok_web_base.rstrip("/") + "/",
            "Accept-Language": "en-US,en;q=0.9",
        }
        creds = self.ctx.credentials.get(self.name)
        if isinstance(creds, dict) and creds.get("cookie"):
            headers["Cookie"] = str(creds["cookie"])
        return headers

    def _strategy(self) -> FetchStrategy:
        if self._current is None:
            cls = self.strategies[self._index]
            policy = HostPolicy.from_settings(self.ctx.settings)
            self._current = cls(self.ctx.settings, policy, self._headers())
        return self._current

    async def _run(self, step: str, fn: Callable[[FetchStrategy], Awaitable[T]]) -> T:
        while True:
            strategy = self._strategy()
            try:
                result = await fn(strategy)
            except BotDetectedError as exc:
                self.strategy_log.append(f"{step}: {strategy.name} blocked ({exc.message})")
                log.info("tiktok @%s: %s failed at %s: %s", self.username, strategy.name,
                         step, exc.message)
                await strategy.close()
                self._current = None
                if self._index + 1 >= len(self.strategies):
                    raise
                self._index += 1
                continue
            if self.served_by != strategy.name:
                self.strategy_log.append(f"{step}: served by {strategy.name}")
                log.info("tiktok @%s: %s served by %s", self.username, step, strategy.name)
            self.served_by = strategy.name
            return result

    async def close(self) -> None:
        if self._current is not None:
            await self._current.close()
            self._current = None

    # profile and videos ----------------------------------------------------------------
    async def profile_info(self) -> dict[str, Any]:
        if self._info is None:
            url = f"{self.ctx.settings.tiktok_web_base.rstrip('/')}/@{self.username}"

            async def load(strategy: FetchStrategy) -> dict[str, Any]:
                return parse_profile(await strategy.page(url), self.username)

            self._info = await self._run("profile", load)
        return self._info

    async def extract(self) -> Collection:
        info = await self.profile_info()
        user = info["user"]
        return Collection(
            platform=self.name,
            id=str(user.get("id") or user["secUid"]),
            title=str(user.get("nickname") or self.username),
            url=self.url,
            kind="profile",
            uploader=str(user.get("uniqueId") or self.username),
            entry_count=as_int(dig(info, "stats", "videoCount")),
        )

    async def _page(self, cursor: str, api: str) -> dict[str, Any]:
        sec_uid = str((await self.profile_info())["user"]["secUid"])

        async def load(strategy: FetchStrategy) -> dict[str, Any]:
            url = strategy.item_list_url(sec_uid, cursor, api=api)
            data = parse_item_list(await strategy.api(url))
            if not data.get("itemList") and _has_more(data, api):
                raise BotDetectedError("tiktok returned an empty page that claims more")
            self._cookies = await strategy.cookies()
            return data

        return await self._run("videos", load)

    async def iter_entries(
        self, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        """Newest first. ``/api/post/item_list/`` pages with the cursor each answer
        gives; where that endpoint is gone (404), ``/api/creator/item_list/`` pages
        with a time in ms (the oldest ``createTime`` seen) and ``hasMorePrevious``."""
        state = dict(cursor or {})
        if state.get("done"):
            return
        api = str(state.get("api", "post"))
        page_cursor = str(state.get("cursor", "0"))
        skip = int(state.get("skip", 0))
        seen: set[str] = set()
        while True:
            if api == "creator" and page_cursor == "0":
                page_cursor = str(int(time.time() * 1000))
            try:
                data = await self._page(page_cursor, api)
            except EndpointMissingError:
                if api != "post":
                    raise
                self.strategy_log.append("videos: /api/post/item_list/ missing, using creator")
                api = "creator"
                continue
            raw_items = [r for r in as_list(data.get("itemList")) if isinstance(r, dict)]
            next_cursor = _next_cursor(data, raw_items, api)
            more = _has_more(data, api) and bool(raw_items)
            if more and next_cursor in ("", page_cursor):
                log.warning("tiktok @%s: paging stopped: the cursor did not advance (%r)",
                            self.username, next_cursor)
                more = False
            fresh = [r for r in raw_items if str(r.get("id")) not in seen]
            seen.update(str(r.get("id")) for r in raw_items)
            if raw_items and not fresh:
                # the API keeps sending a page already listed (yt-dlp meets this too)
                log.warning("tiktok @%s: paging stopped: the page repeats ones listed",
                            self.username)
                more = False
            items = [item for raw in fresh for item in self._items(raw)]
            for index, item in enumerate(items):
                if index < skip:
                    continue
                if index + 1 < len(items):
                    after: Cursor = {"cursor": page_cursor, "skip": index + 1, "api": api}
                elif more:
                    after = {"cursor": next_cursor, "skip": 0, "api": api}
                else:
                    after = {"done": True}
                yield item, after
            if not more:
                return
            page_cursor, skip = next_cursor, 0

    def _items(self, raw: dict[str, Any]) -> list[MediaItem]:
        """The media of one listed post: its video, or each image of a photo post. A
        post whose shape cannot be read is one item failing with ``extraction_failed``."""
        try:
            return self._read_items(raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            ident = str(raw.get("id") or "unknown")
            message = f"tiktok: cannot read video {ident}: {exc!r}"
            log.warning("%s", message)
            return [self._media(raw, ident, (), unavailable=("extraction_failed", message))]

    def _read_items(self, raw: dict[str, Any]) -> list[MediaItem]:
        if raw.get("id") is None:
            raise KeyError("itemList[].id")
        ident = str(raw["id"])
        images = as_list(dig(raw, "imagePost", "images"))
        if images:
            out: list[MediaItem] = []
            for position, image in enumerate(images, start=1):
                url = _first_url(dig(image, "imageURL", "urlList"))
                formats: tuple[Format, ...] = (
                    (
                        Format(
                            format_id="image",
                            url=url,
                            ext=ext_from_url(url, "jpg"),
                            width=as_int(dig(image, "imageWidth")),
                            height=as_int(dig(image, "imageHeight")),
                            vcodec=None,
                            acodec="none",
                        ),
                    )
                    if url
                    else ()
                )
                missing = (
                    None
                    if url
                    else ("extraction_failed",
                          f"tiktok photo post {ident}: image {position} has no imageURL.urlList")
                )
                out.append(
                    self._media(raw, f"{ident}-{position}", formats, kind="image",
                                suffix=f" ({position})" if len(images) > 1 else "",
                                unavailable=missing)
                )
            return out
        video_formats = tuple(_formats(as_dict(raw.get("video"))))
        if video_formats:
            return [self._media(raw, ident, video_formats)]
        why = (
            "extraction_failed",
            f"tiktok video {ident} has no playable address "
            "(video.playAddr, video.bitrateInfo, imagePost.images)",
        )
        return [self._media(raw, ident, (), unavailable=why)]

    def _media(
        self,
        raw: dict[str, Any],
        ident: str,
        formats: tuple[Format, ...],
        *,
        kind: Literal["video", "image", "other"] = "video",
        suffix: str = "",
        unavailable: tuple[str, str] | None = None,
    ) -> MediaItem:
        # the API lists the author as an object; the page hydration JSON by its name
        author = raw.get("author")
        author = author if isinstance(author, dict) else {"uniqueId": author}
        uploader = str(author.get("uniqueId") or self.username)
        timestamp = as_float(raw.get("createTime"))
        web = self.ctx.settings.tiktok_web_base.rstrip("/")
        video = as_dict(raw.get("video"))
        cover = video.get("cover") or video.get("originCover")
        stats = as_dict(raw.get("stats")) or as_dict(raw.get("statsV2"))
        post_id = str(raw.get("id") or ident)
        extra: dict[str, Any] = {"strategy": self.served_by}
        headers = self._media_headers()
        formats = tuple(
            f.model_copy(update={"http_headers": {**headers, **f.http_headers}}) for f in formats
        )
        if unavailable is not None:
            extra["unavailable"] = {"code": unavailable[0], "message": unavailable[1]}
        return MediaItem(
            platform=self.name,
            id=ident,
            title=title_from(raw.get("desc"), f"TikTok video {post_id}") + suffix,
            url=f"{web}/@{uploader}/{'photo' if kind == 'image' else 'video'}/{post_id}",
            formats=formats if unavailable is None else (),
            uploader=uploader,
            uploader_id=str(author.get("id")) if author.get("id") else None,
            upload_date=upload_date(timestamp),
            timestamp=timestamp,
            duration=as_float(video.get("duration")) if kind == "video" else None,
            description=raw.get("desc") if isinstance(raw.get("desc"), str) else None,
            view_count=as_int(stats.get("playCount")),
            like_count=as_int(stats.get("diggCount")),
            thumbnails=(Thumbnail(url=cover),) if isinstance(cover, str) and cover else (),
            playlist=uploader,
            kind=kind,
            http_headers=headers,
            extra=extra,
        )

    def _media_headers(self) -> dict[str, str]:
        """What TikTok's video CDN checks: the Referer, the user agent the pages were
        fetched with, and the cookies set meanwhile (``tt_chain_token``). They go on
        every format, which is what the transfer engine sends."""
        web = self.ctx.settings.tiktok_web_base.rstrip("/")
        headers = {"Referer": web + "/", "User-Agent": self.ctx.settings.user_agent}
        cookies = dict(self._cookies)
        creds = self.ctx.credentials.get(self.name)
        if isinstance(creds, dict) and isinstance(creds.get("cookie"), str):
            for part in str(creds["cookie"]).split(";"):
                name, sep, value = part.strip().partition("=")
                if sep and name not in cookies:
                    cookies[name] = value
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return headers


def _has_more(data: dict[str, Any], api: str) -> bool:
    if api == "creator" and "hasMorePrevious" in data:
        return as_bool(data.get("hasMorePrevious"))
    return as_bool(data.get("hasMore", data.get("hasMorePrevious")))


def _next_cursor(data: dict[str, Any], items: list[dict[str, Any]], api: str) -> str:
    if api == "creator":
        times = [t for t in (as_float(i.get("createTime")) for i in items) if t]
        if times:
            return str(int(min(times) * 1000))
    cursor = data.get("cursor")
    return str(cursor) if cursor is not None else ""


def _first_url(value: Any) -> str | None:
    urls = value if isinstance(value, list) else [value]
    return next((u for u in urls if isinstance(u, str) and u), None)


def _formats(video: dict[str, Any]) -> list[Format]:
    formats: list[Format] = []
    seen: set[str] = set()
    for rate in as_list(video.get("bitrateInfo")):
        play = as_dict(dig(rate, "PlayAddr"))
        url = _first_url(play.get("UrlList"))
        if not url or url in seen:
            continue
        seen.add(url)
        formats.append(
            Format(
                format_id=str(rate.get("GearName") or f"q{rate.get('QualityType')}"),
                url=url,
                width=as_int(play.get("Width")),
                height=as_int(play.get("Height")),
                tbr=(as_float(rate.get("Bitrate")) or 0) / 1000 or None,
                filesize=as_int(play.get("DataSize")),
                vcodec=str(rate.get("CodecType") or "h264"),
            )
        )
    for key, note in (("playAddr", "play"), ("downloadAddr", "watermarked")):
        url = _first_url(video.get(key))
        if url and url not in seen:
            seen.add(url)
            formats.append(
                Format(  # no size hints: the selector prefers the clean qualities above
                    format_id=note,
                    url=url,
                    note=note,
                )
            )
    return formats
