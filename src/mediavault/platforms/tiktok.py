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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from mediavault.errors import BotDetectedError, ExtractionError
from mediavault.models import Collection, CollectionEntry, Format, MediaItem, Thumbnail
from mediavault.net.guard import HostPolicy
from mediavault.platforms._tiktok_fetch import (
    BrowserStrategy,
    FetchStrategy,
    HttpStrategy,
    parse_item_list,
    parse_profile,
)
from mediavault.platforms._utils import as_float, as_int, dig, title_from, upload_date
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

    async def _page(self, cursor: str) -> dict[str, Any]:
        sec_uid = str((await self.profile_info())["user"]["secUid"])

        async def load(strategy: FetchStrategy) -> dict[str, Any]:
            data = parse_item_list(await strategy.api(strategy.item_list_url(sec_uid, cursor)))
            if not data.get("itemList") and data.get("hasMore"):
                raise BotDetectedError("tiktok returned an empty page that claims more")
            return data

        return await self._run("videos", load)

    async def iter_entries(
        self, cursor: Cursor | None = None
    ) -> AsyncIterator[tuple[MediaItem | CollectionEntry, Cursor | None]]:
        state = dict(cursor or {})
        if state.get("done"):
            return
        page_cursor = str(state.get("cursor", "0"))
        skip = int(state.get("skip", 0))
        while True:
            data = await self._page(page_cursor)
            raw_items = data.get("itemList") or []
            more = bool(data.get("hasMore")) and bool(raw_items)
            next_cursor = str(data.get("cursor", ""))
            for index, raw in enumerate(raw_items):
                if index < skip:
                    continue
                item = self._item(raw)
                if index + 1 < len(raw_items):
                    after: Cursor = {"cursor": page_cursor, "skip": index + 1}
                else:
                    after = {"cursor": next_cursor, "skip": 0} if more else {"done": True}
                if item is not None:
                    yield item, after
            if not more:
                return
            page_cursor, skip = next_cursor, 0

    def _item(self, raw: dict[str, Any]) -> MediaItem | None:
        video = raw.get("video") or {}
        formats = _formats(video)
        if not formats or raw.get("id") is None:
            return None
        author = raw.get("author") or {}
        uploader = str(author.get("uniqueId") or self.username)
        timestamp = as_float(raw.get("createTime"))
        web = self.ctx.settings.tiktok_web_base.rstrip("/")
        cover = video.get("cover") or video.get("originCover")
        stats = raw.get("stats") or {}
        return MediaItem(
            platform=self.name,
            id=str(raw["id"]),
            title=title_from(raw.get("desc"), f"TikTok video {raw['id']}"),
            url=f"{web}/@{uploader}/video/{raw['id']}",
            formats=tuple(formats),
            uploader=uploader,
            uploader_id=str(author.get("id")) if author.get("id") else None,
            upload_date=upload_date(timestamp),
            timestamp=timestamp,
            duration=as_float(video.get("duration")),
            description=raw.get("desc"),
            view_count=as_int(stats.get("playCount")),
            like_count=as_int(stats.get("diggCount")),
            thumbnails=(Thumbnail(url=cover),) if cover else (),
            playlist=uploader,
            http_headers={"Referer": web + "/", "User-Agent": self.ctx.settings.user_agent},
            extra={"strategy": self.served_by},
        )


def _formats(video: dict[str, Any]) -> list[Format]:
    formats: list[Format] = []
    seen: set[str] = set()
    for rate in video.get("bitrateInfo") or []:
        url = dig(rate, "PlayAddr", "UrlList", 0)
        if not url or url in seen:
            continue
        seen.add(url)
        formats.append(
            Format(
                format_id=str(rate.get("GearName") or f"q{rate.get('QualityType')}"),
                url=url,
                width=as_int(dig(rate, "PlayAddr", "Width")),
                height=as_int(dig(rate, "PlayAddr", "Height")),
                tbr=(as_float(rate.get("Bitrate")) or 0) / 1000 or None,
                filesize=as_int(dig(rate, "PlayAddr", "DataSize")),
                vcodec=str(rate.get("CodecType") or "h264"),
            )
        )
    for key, note in (("playAddr", "play"), ("downloadAddr", "watermarked")):
        url = video.get(key)
        if isinstance(url, str) and url and url not in seen:
            seen.add(url)
            formats.append(
                Format(  # no size hints: the selector prefers the clean qualities above
                    format_id=note,
                    url=url,
                    note=note,
                )
            )
    return formats
