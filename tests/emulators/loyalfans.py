"""LoyalFans emulation: cookie session auth (Laravel-style 401 ``Unauthenticated.``),
page-numbered timeline and messages (``has_more``), stories, ``video_object`` media with
``qualities`` and a ``drm`` block for DRM-protected videos, ``is_locked`` paid posts.

``variants``: ``php_types`` sends what a PHP back end without casts sends: flags as
``"0"``/``"1"`` strings, ``has_more`` as 0/1, media keyed by ``id`` instead of ``uid``,
an unset list as ``null``; post 9's ``video_object`` has no URL of any known name.
``public_shape`` follows the public clients (UltimaScraperAPI, the archived LoyalFans
downloader): the session check is ``api/v1/auth/user/me`` (``api/v1/user/me`` is
404), the profile nests the creator in ``data.user``, photos come as
``photos.photos[].images.original`` next to ``photo``/``video`` flags, a paid video
shows only its ``video_trailer``, and messages page by ``offset`` (``page`` ignored).
``no_paging``: the timeline reads neither ``page`` nor ``offset`` (always page 1, and
``has_more`` stays true)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.emulators.content import Catalog, Entry
from tests.support.origin import OriginRequest

AUTH = {"cookie": "XSRF-TOKEN=abc; loyalfans_session=lf-session-42", "user_agent": "EmulatedBrowser/3.0"}


def stamp(ts: int) -> dict[str, Any]:
    return {"date": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.000000"),
            "timezone_type": 3, "timezone": "UTC"}


class LoyalFansEmulator(Emulator):
    def __init__(self, media_root: Path, catalog: Catalog, *, variants: tuple[str, ...] = ()) -> None:
        self.catalog = catalog
        self.variants = set(variants)
        self.session_cookie = "loyalfans_session=lf-session-42"
        super().__init__(media_root)

    def guarded(self, handler: Any) -> Any:
        def wrapper(req: OriginRequest, match: Any) -> Response:
            headers = {k.lower(): v for k, v in req.headers.items()}
            if self.session_cookie not in headers.get("cookie", "") or headers.get("user-agent") != AUTH["user_agent"]:
                return json_response({"message": "Unauthenticated."}, 401)
            return handler(req, match)

        return wrapper

    def post_json(self, entry: Entry) -> dict[str, Any]:
        if "public_shape" in self.variants:
            return self._public_post(entry)
        data = self._post_json(entry)
        if "php_types" not in self.variants:
            return data
        data["is_locked"] = "1" if data["is_locked"] else "0"
        video = data.get("video_object")
        if isinstance(video, dict):
            video["id"] = video.pop("uid")
            if entry.id == 10_009:
                video.pop("video_url", None)
                video["qualities"] = []
        for photo in data.get("photos") or []:
            photo["id"] = photo.pop("uid")
        if not data.get("photos"):
            data["photos"] = None
        return data

    def _public_post(self, entry: Entry) -> dict[str, Any]:
        data = self._post_json(entry)
        locked = data.pop("is_locked")
        video = next((m for m in entry.media if m.kind == "video"), None)
        if locked and video is not None:  # a paid video: its trailer only
            data["video_object"] = {"uid": str(video.id),
                                    "video_trailer": self.media_url(f"{video.id}/trailer.mp4", "video")}
        photos = data.pop("photos", [])
        data["photo"] = bool(photos)
        data["video"] = "video_object" in data
        data["photos"] = {"photos": [{"uid": p["uid"], "images": {"original": p["url"]}} for p in photos]}
        return data

    def _post_json(self, entry: Entry) -> dict[str, Any]:
        video = next((m for m in entry.media if m.kind == "video"), None)
        photos = [m for m in entry.media if m.kind == "photo"]
        locked = any(m.locked for m in entry.media)
        data: dict[str, Any] = {"uid": f"p{entry.id}", "title": entry.text, "content": entry.text,
                                "created_at": stamp(entry.ts), "is_locked": locked}
        if locked:
            return data
        if video is not None:
            vid = str(video.id)
            if video.drm:
                data["video_object"] = {"uid": vid, "hls_url": self.media_url(f"drm/{vid}/master.m3u8", "video"),
                                        "drm": {"widevine": {"license_url": "https://lic.invalid/"}}}
            else:
                data["video_object"] = {
                    "uid": vid, "video_url": self.media_url(f"{vid}/original.mp4", "video"),
                    "width": 160, "height": 90, "duration": 1,
                    "poster": self.media_url(f"{vid}/poster.jpg", "photo"),
                    "qualities": [{"label": "360p", "height": 360, "url": self.media_url(f"{vid}/360.mp4", "video")}],
                }
        data["photos"] = [{"uid": str(p.id), "url": self.media_url(f"{p.id}/photo.jpg", "photo"),
                           "width": 160, "height": 90} for p in photos]
        return data

    @staticmethod
    def paged(entries: list[Entry], req: OriginRequest) -> tuple[list[Entry], bool]:
        params = query_params(req)
        limit, page = int(params.get("limit", 10)), int(params.get("page", 1))
        chunk = entries[(page - 1) * limit : page * limit]
        return chunk, page * limit < len(entries)

    def me(self, req: OriginRequest, match: Any) -> Response:
        public = "public_shape" in self.variants
        if public != (req.path == "/api/v1/auth/user/me"):
            return json_response({"success": False, "message": "Not found"}, 404)
        return json_response({"success": True, "user": {"uid": "u9", "slug": "viewer", "name": "Viewer"}})

    def install(self) -> None:
        cat = self.catalog
        self.route(r"/api/v1/(?:auth/)?user/me")(self.guarded(self.me))
        self.route(r"/api/v2/profile/star/([A-Za-z0-9_.-]+)")(self.guarded(self.profile))
        self.route(rf"/api/v2/social/timeline/{cat.username}")(self.guarded(self.timeline))
        self.route(rf"/api/v2/messages/{cat.user_id}")(self.guarded(self.messages))
        self.route(rf"/api/v2/stories/{cat.user_id}")(self.guarded(
            lambda r, m: json_response({"success": True, "stories": [self.post_json(s) for s in cat.stories]})))

    def profile(self, req: OriginRequest, match: Any) -> Response:
        cat = self.catalog
        if match.group(1) != cat.username:
            return json_response({"success": False, "message": "Profile not found"}, 404)
        videos = sum(1 for m in cat.all_media() if m.kind == "video")
        if "public_shape" in self.variants:
            return json_response({"success": True, "data": {
                "user": {"uid": str(cat.user_id), "slug": cat.username, "name": cat.name,
                         "profile_photo": {"images": {"original": self.media_url("avatar.jpg", "photo")}}},
                "profile": {"about": "About me"},
                "counters": {"posts_total": len(cat.posts), "videos": videos,
                             "photos": len(cat.all_media()) - videos}}})
        return json_response({"success": True, "data": {
            "uid": str(cat.user_id), "slug": cat.username, "display_name": cat.name, "about": "About me",
            "counters": {"posts": len(cat.posts), "videos": videos, "photos": len(cat.all_media()) - videos}}})

    def timeline(self, req: OriginRequest, match: Any) -> Response:
        if "no_paging" in self.variants:
            first = [self.post_json(p) for p in self.catalog.posts[:10]]
            return json_response({"success": True, "timeline": first, "has_more": True})
        chunk, more = self.paged(self.catalog.posts, req)
        has_more: Any = int(more) if "php_types" in self.variants else more
        return json_response({"success": True, "timeline": [self.post_json(p) for p in chunk], "has_more": has_more})

    def messages(self, req: OriginRequest, match: Any) -> Response:
        if "public_shape" in self.variants:  # offset paging; ``page`` is not read
            params = query_params(req)
            limit, offset = int(params.get("limit", 10)), int(params.get("offset", 0))
            msgs = self.catalog.messages
            chunk, more = msgs[offset : offset + limit], offset + limit < len(msgs)
            return json_response({"success": True, "messages": [self.post_json(p) for p in chunk],
                                  "has_more": more})
        chunk, more = self.paged(self.catalog.messages, req)
        return json_response({"success": True, "messages": [self.post_json(p) for p in chunk], "has_more": more})
