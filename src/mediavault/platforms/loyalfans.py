"""LoyalFans: a creator's timeline, messages and stories.

The session is the user's own cookie and user agent (a bearer token is optional and
sent when given). Timeline and messages page by page number (``page``/``has_more``);
a post carries either a ``video_object`` (original, ``qualities``, maybe ``drm``) or
``photos``; ``is_locked`` posts are not visible to this account and are left out.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mediavault.errors import CredentialsInvalidError, ExtractionError
from mediavault.models import Creator, Format, MediaItem, Post, Protocol
from mediavault.platforms._creator import CreatorAdapter, Page, ext_from_url
from mediavault.platforms._utils import (
    as_float,
    as_int,
    dig,
    parse_timestamp,
    request_json,
    title_from,
)
from mediavault.platforms.base import register

__all__ = ["LoyalFansAdapter"]

PAGE_SIZE = 10


@register
class LoyalFansAdapter(CreatorAdapter):
    name = "loyalfans"
    pattern = (
        r"https?://(?:www\.)?loyalfans\.com/(?P<user>[A-Za-z0-9_.-]+)/?"
        r"(?:(?P<feed>posts|messages|stories)/?)?(?:[?#].*)?$"
    )
    example = "https://www.loyalfans.com/example_creator"
    available_feeds: ClassVar[tuple[str, ...]] = ("posts", "messages", "stories")
    web_base = "https://www.loyalfans.com"

    @property
    def api_base(self) -> str:
        return self.ctx.settings.loyalfans_api_base.rstrip("/")

    async def _get(self, path: str, **params: Any) -> Any:
        auth = self.auth
        headers = {
            "cookie": auth.cookie,
            "user-agent": auth.user_agent,
            "accept": "application/json",
            "x-requested-with": "XMLHttpRequest",
        }
        if auth.token:
            headers["authorization"] = f"Bearer {auth.token}"
        return await request_json(
            self.ctx.session,
            f"{self.api_base}{path}",
            platform=self.name,
            headers=headers,
            params=params,
        )

    async def login(self) -> dict[str, Any]:
        user = dig(await self._get("/api/v1/user/me"), "user")
        if not isinstance(user, dict) or not user.get("uid"):
            raise CredentialsInvalidError(
                "loyalfans did not accept the session", detail={"platform": self.name}
            )
        return user

    async def profile(self) -> Creator:
        data = dig(await self._get(f"/api/v2/profile/star/{self.username}"), "data")
        if not isinstance(data, dict) or not data.get("uid"):
            raise ExtractionError(f"loyalfans: no creator named {self.username!r}")
        counters = data.get("counters") or {}
        media = (as_int(counters.get("photos")) or 0) + (as_int(counters.get("videos")) or 0)
        slug = str(data.get("slug") or self.username)
        return Creator(
            platform=self.name,
            id=str(data["uid"]),
            username=slug,
            name=data.get("display_name"),
            url=f"{self.web_base}/{slug}",
            about=data.get("about"),
            avatar=data.get("avatar"),
            posts_count=as_int(counters.get("posts")),
            media_count=media or None,
            is_subscribed=data.get("is_subscribed"),
        )

    async def fetch_page(self, creator: Creator, feed: str, page: Any) -> Page:
        number = int(page or 1)
        if feed == "stories":
            data = await self._get(f"/api/v2/stories/{creator.id}")
            stories = dig(data, "stories", default=[])
            return Page([self._post(raw, creator, feed) for raw in stories])
        if feed == "posts":
            data = await self._get(
                f"/api/v2/social/timeline/{creator.username}", limit=PAGE_SIZE, page=number
            )
            raw_list = dig(data, "timeline", default=[])
        else:
            data = await self._get(f"/api/v2/messages/{creator.id}", limit=PAGE_SIZE, page=number)
            raw_list = dig(data, "messages", default=[])
        posts = [self._post(raw, creator, feed) for raw in raw_list]
        return Page(posts, number + 1 if dig(data, "has_more", default=False) else None)

    def _post(self, raw: dict[str, Any], creator: Creator, feed: str) -> Post:
        post_id = str(raw["uid"])
        created = raw.get("created_at")
        timestamp = parse_timestamp(created.get("date") if isinstance(created, dict) else created)
        text = raw.get("content") or raw.get("title")
        base_title = title_from(raw.get("title") or text, f"{creator.username} {feed} {post_id}")
        page_url = f"{self.web_base}/post/{post_id}" if feed == "posts" else creator.url or ""
        sources: list[tuple[str, list[Format], str, float | None, str | None]] = []
        if not raw.get("is_locked"):
            video = raw.get("video_object")
            if isinstance(video, dict):
                formats = self._video_formats(video)
                if formats:
                    sources.append(
                        ("video", formats, str(video["uid"]), as_float(video.get("duration")),
                         video.get("poster"))
                    )
            for photo in raw.get("photos") or []:
                if photo.get("url"):
                    fmt = Format(
                        format_id="original",
                        url=photo["url"],
                        ext=ext_from_url(photo["url"], "jpg"),
                        acodec="none",
                        width=as_int(photo.get("width")),
                        height=as_int(photo.get("height")),
                    )
                    thumb = photo.get("thumbnail")
                    sources.append(("image", [fmt], str(photo["uid"]), None, thumb))
        media: list[MediaItem] = []
        for position, (kind, formats, media_id, duration, thumb) in enumerate(sources, start=1):
            media.append(
                self.make_item(
                    media_id=media_id,
                    creator=creator,
                    feed=feed,
                    post_id=post_id,
                    title=base_title if len(sources) == 1 else f"{base_title} ({position})",
                    page_url=page_url,
                    formats=formats,
                    kind="video" if kind == "video" else "image",
                    timestamp=timestamp,
                    duration=duration,
                    description=text,
                    thumbnail=thumb,
                )
            )
        return self.make_post(
            post_id=post_id,
            creator=creator,
            feed=feed,
            text=text,
            timestamp=timestamp,
            media=media,
            locked=bool(raw.get("is_locked")),
        )

    @staticmethod
    def _video_formats(video: dict[str, Any]) -> list[Format]:
        drm = video.get("drm")
        if isinstance(drm, dict) and drm:
            manifest = video.get("hls_url") or video.get("video_url") or ""
            return [Format(format_id="drm-hls", url=manifest, protocol=Protocol.HLS, drm=True)]
        formats: list[Format] = []
        if video.get("video_url"):
            formats.append(
                Format(
                    format_id="original",
                    url=video["video_url"],
                    ext=ext_from_url(video["video_url"], "mp4"),
                    width=as_int(video.get("width")),
                    height=as_int(video.get("height")),
                    note="original",
                )
            )
        for quality in video.get("qualities") or []:
            if quality.get("url"):
                formats.append(
                    Format(
                        format_id=str(quality.get("label") or f"{quality.get('height')}p"),
                        url=quality["url"],
                        ext=ext_from_url(quality["url"], "mp4"),
                        height=as_int(quality.get("height")),
                    )
                )
        return formats
