"""LoyalFans: a creator's timeline, messages and stories.

The session is the user's own cookie and user agent (a bearer token is optional and
sent when given). Timeline and messages page by page number (``page``/``has_more``);
a post carries either a ``video_object`` (original, ``qualities``, maybe ``drm``) or
``photos``; ``is_locked`` posts are not visible to this account: their media are
reported skipped (``content_locked``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mediavault.errors import CredentialsInvalidError, ExtractionError
from mediavault.models import Creator, Format, MediaItem, Post, Protocol
from mediavault.platforms._creator import CreatorAdapter, Page, ext_from_url, require_list
from mediavault.platforms._utils import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
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
        """``auth/user/me`` (``api/v1/user/me`` on API versions without it, 404)."""
        data: Any = None
        for path in ("/api/v1/auth/user/me", "/api/v1/user/me"):
            try:
                data = await self._get(path)
                break
            except ExtractionError as exc:
                if (exc.detail or {}).get("status") != 404:
                    raise
        user = dig(data, "user")
        if not isinstance(user, dict) or not (user.get("uid") or user.get("id")):
            message = dig(data, "message")
            raise CredentialsInvalidError(
                "loyalfans did not accept the session"
                + (f": {message}" if isinstance(message, str) and message else ""),
                detail={"platform": self.name},
            )
        return user

    async def profile(self) -> Creator:
        data = dig(await self._get(f"/api/v2/profile/star/{self.username}"), "data")
        if not isinstance(data, dict):
            raise ExtractionError(f"loyalfans: no creator named {self.username!r}")
        # the creator's fields sit in ``data.user`` (and ``data.profile``), or flat
        user = {**as_dict(data.get("profile")), **data, **as_dict(data.get("user"))}
        uid = user.get("uid") or user.get("id")
        if not uid:
            raise ExtractionError(
                f"loyalfans: no creator named {self.username!r} (no data.user.uid)",
                detail={"platform": self.name, "field": "data.user.uid"},
            )
        counters = as_dict(data.get("counters"))
        media = (as_int(counters.get("photos")) or 0) + (as_int(counters.get("videos")) or 0)
        slug = str(user.get("slug") or self.username)
        photo = user.get("profile_photo")
        avatar = dig(photo, "images", "original") if isinstance(photo, dict) else user.get("avatar")
        name = user.get("display_name") or user.get("name")
        return Creator(
            platform=self.name,
            id=str(uid),
            username=slug,
            name=name if isinstance(name, str) else None,
            url=f"{self.web_base}/{slug}",
            about=_str(user.get("about")),
            avatar=_str(avatar),
            posts_count=as_int(counters.get("posts") or counters.get("posts_total")),
            media_count=media or None,
            is_subscribed=as_bool(user["is_subscribed"]) if "is_subscribed" in user else None,
        )

    async def fetch_page(self, creator: Creator, feed: str, page: Any) -> Page:
        number = int(page or 1)
        if feed == "stories":
            data = await self._get(f"/api/v2/stories/{creator.id}")
            stories = require_list(self.name, data, "stories")
            return Page(self._parse(stories, creator, feed))
        if feed == "posts":
            # ``page`` (1-based) and the matching ``offset``: API versions read one or the other
            data = await self._get(
                f"/api/v2/social/timeline/{creator.username}",
                limit=PAGE_SIZE, page=number, offset=(number - 1) * PAGE_SIZE,
            )
            raw_list = require_list(self.name, data, "timeline")
        else:
            data = await self._get(
                f"/api/v2/messages/{creator.id}",
                limit=PAGE_SIZE, page=number, offset=(number - 1) * PAGE_SIZE,
            )
            raw_list = require_list(self.name, data, "messages")
        posts = self._parse(raw_list, creator, feed)
        return Page(posts, number + 1 if raw_list and as_bool(dig(data, "has_more")) else None)

    def _parse(self, raws: list[Any], creator: Creator, feed: str) -> list[Post]:
        def parse(raw: dict[str, Any]) -> Post:
            return self._post(raw, creator, feed)

        return self.parse_posts(raws, creator, feed, parse)

    def _post(self, raw: dict[str, Any], creator: Creator, feed: str) -> Post:
        post_id = str(raw["uid"] if raw.get("uid") is not None else raw["id"])
        created = raw.get("created_at")
        timestamp = parse_timestamp(created.get("date") if isinstance(created, dict) else created)
        text = _str(raw.get("content")) or _str(raw.get("title"))
        fallback = f"{creator.username} {feed} {post_id}"
        base_title = title_from(_str(raw.get("title")) or text, fallback)
        page_url = f"{self.web_base}/post/{post_id}" if feed == "posts" else creator.url or ""
        # (kind, formats, id, duration, thumbnail, locked)
        sources: list[tuple[str, list[Format], str, float | None, str | None, bool]] = []
        locked = as_bool(raw.get("is_locked"))
        video = raw.get("video_object")
        if isinstance(video, dict) and video:
            formats = [] if locked else self._video_formats(video)
            # only a trailer (a teaser of a paid video) and no video: locked for this account
            video_locked = locked or (not formats and bool(_str(video.get("video_trailer"))))
            video_id = str(video.get("uid") or video.get("id") or f"{post_id}-video")
            sources.append(
                ("video", formats, video_id, as_float(video.get("duration")),
                 _str(video.get("poster")), video_locked)
            )
        # ``photos`` is a list, or an object holding it (``photos.photos``); a photo's URL
        # is ``url`` or ``images.original``
        photos = raw.get("photos")
        photo_list = as_list(photos.get("photos")) if isinstance(photos, dict) else as_list(photos)
        for index, photo in enumerate(photo_list, start=1):
            if not isinstance(photo, dict):
                continue
            url = _str(photo.get("url")) or _str(dig(photo, "images", "original"))
            fmt = [] if locked or not url else [
                Format(
                    format_id="original",
                    url=url,
                    ext=ext_from_url(url, "jpg"),
                    acodec="none",
                    width=as_int(photo.get("width")),
                    height=as_int(photo.get("height")),
                )
            ]
            photo_id = str(photo.get("uid") or photo.get("id") or f"{post_id}-photo{index}")
            thumb = _str(photo.get("thumbnail")) or _str(dig(photo, "images", "thumbnail"))
            sources.append(("image", fmt, photo_id, None, thumb, locked))
        if locked and not sources:
            # a locked post shows nothing of its media: it is reported as one item
            sources.append(("other", [], f"{post_id}-locked", None, None, True))
        where = f"loyalfans {feed} {post_id}"
        media: list[MediaItem] = []
        for position, source in enumerate(sources, start=1):
            kind, formats, media_id, duration, thumb, hidden = source
            unavailable = None
            if not formats:
                unavailable = (
                    ("content_locked", f"{where} is locked: not bought or not subscribed")
                    if hidden
                    else ("extraction_failed", f"{where}: media {media_id} has no URL (video_object"
                          ".video_url, photos[].url or photos.photos[].images.original)")
                )
            media.append(
                self.make_item(
                    media_id=media_id,
                    creator=creator,
                    feed=feed,
                    post_id=post_id,
                    title=base_title if len(sources) == 1 else f"{base_title} ({position})",
                    page_url=page_url,
                    formats=formats,
                    kind="video" if kind == "video" else "image" if kind == "image" else "other",
                    timestamp=timestamp,
                    duration=duration,
                    description=text,
                    thumbnail=thumb,
                    unavailable=unavailable,
                )
            )
        return self.make_post(
            post_id=post_id,
            creator=creator,
            feed=feed,
            text=text,
            timestamp=timestamp,
            media=media,
            locked=bool(sources) and all(source[5] for source in sources),
        )

    @staticmethod
    def _video_formats(video: dict[str, Any]) -> list[Format]:
        drm = video.get("drm")
        if (isinstance(drm, dict) and drm) or drm is True:
            manifest = _str(video.get("hls_url")) or _str(video.get("video_url")) or ""
            return [Format(format_id="drm-hls", url=manifest, protocol=Protocol.HLS, drm=True)]
        formats: list[Format] = []
        original = _str(video.get("video_url"))
        if original:
            formats.append(
                Format(
                    format_id="original",
                    url=original,
                    ext=ext_from_url(original, "mp4"),
                    width=as_int(video.get("width")),
                    height=as_int(video.get("height")),
                    note="original",
                )
            )
        for quality in as_list(video.get("qualities")):
            url = _str(dig(quality, "url"))
            if url and url != original:
                formats.append(
                    Format(
                        format_id=str(quality.get("label") or f"{quality.get('height')}p"),
                        url=url,
                        ext=ext_from_url(url, "mp4"),
                        height=as_int(quality.get("height")),
                    )
                )
        hls = _str(video.get("hls_url"))
        if hls and not formats:
            formats.append(Format(format_id="hls", url=hls, protocol=Protocol.HLS))
        return formats


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
