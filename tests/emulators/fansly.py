"""Fansly ``apiv3`` emulation: token auth, ``timelinenew`` paging, messages, stories.

Shapes follow the public Fansly clients (fansly-downloader, gallery-dl, UltimaScraperAPI):
``{"success": true, "response": ...}``; posts with ``attachments`` pointing at
``accountMedia`` (``media`` + ``variants`` with ``locations``) or bundles; ``before=<id>``
paging until an empty page. DRM-flagged media carry a Widevine key-system in their
location metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.emulators.content import Catalog, Entry, Media
from tests.support.origin import OriginRequest

TOKEN = "fansly-session-token-0123456789"
AUTH = {"cookie": "fansly-token=" + TOKEN, "user_agent": "EmulatedBrowser/2.0", "token": TOKEN}
PAGE = 10


class FanslyEmulator(Emulator):
    def __init__(self, media_root: Path, catalog: Catalog) -> None:
        self.catalog = catalog
        self.token = TOKEN
        super().__init__(media_root)

    def ok(self, response: Any) -> Response:
        return json_response({"success": True, "response": response})

    def guarded(self, handler: Any) -> Any:
        def wrapper(req: OriginRequest, match: Any) -> Response:
            headers = {k.lower(): v for k, v in req.headers.items()}
            if headers.get("authorization") != self.token:
                return json_response({"success": False, "error": {"code": 401, "details": "Invalid token"}, "message": "Invalid token"}, 401)
            return handler(req, match)

        return wrapper

    def account_media(self, media: Media, ts: int) -> dict[str, Any]:
        mid = str(media.id)
        if media.kind == "photo":
            body = {
                "id": mid + "0", "mimetype": "image/jpeg", "width": 160, "height": 90,
                "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/orig.jpg", "photo")}],
                "variants": [{"id": mid + "1", "type": 1, "mimetype": "image/jpeg", "width": 80, "height": 45,
                              "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/small.jpg", "photo")}]}],
            }
        elif media.drm:
            body = {
                "id": mid + "0", "mimetype": "video/mp4", "width": 160, "height": 90,
                "metadata": {"duration": 1}, "locations": [],
                "variants": [{"id": mid + "2", "type": 302, "mimetype": "application/vnd.apple.mpegurl",
                              "width": 160, "height": 90,
                              "locations": [{"locationId": "102", "location": self.media_url(f"drm/{mid}/master.m3u8", "video"),
                                             "metadata": {"keySystem": "com.widevine.alpha"}}]}],
            }
        else:
            body = {
                "id": mid + "0", "mimetype": "video/mp4", "width": 160, "height": 90,
                "metadata": {"duration": 1},
                "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/orig.mp4", "video")}],
                "variants": [
                    {"id": mid + "1", "type": 1, "mimetype": "image/jpeg", "width": 80, "height": 45,
                     "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/thumb.jpg", "photo")}]},
                    {"id": mid + "3", "type": 2, "mimetype": "video/mp4", "width": 80, "height": 45,
                     "locations": [{"locationId": "1", "location": self.media_url(f"{mid}/480.mp4", "video")}]},
                ],
            }
        return {"id": mid, "accountId": str(self.catalog.user_id), "mediaId": mid + "0", "createdAt": ts,
                "access": not media.locked, "media": None if media.locked else body}

    def entries_payload(self, entries: list[Entry], key: str, bundle_first: bool = False) -> dict[str, Any]:
        account_media, bundles, out = [], [], []
        for entry in entries:
            for m in entry.media:
                account_media.append(self.account_media(m, entry.ts))
            if bundle_first and len(entry.media) > 1:
                bundle_id = f"b{entry.id}"
                bundles.append({"id": bundle_id, "accountMediaIds": [str(m.id) for m in entry.media]})
                attachments = [{"pos": 0, "contentType": 2, "contentId": bundle_id}]
            else:
                attachments = [{"pos": i, "contentType": 1, "contentId": str(m.id)} for i, m in enumerate(entry.media)]
            out.append({"id": str(entry.id), "accountId": str(self.catalog.user_id), "content": entry.text,
                        "createdAt": entry.ts, "attachments": attachments})
        return {key: out, "accountMedia": account_media, "accountMediaBundles": bundles,
                "accounts": [{"id": str(self.catalog.user_id), "username": self.catalog.username}]}

    @staticmethod
    def after(entries: list[Entry], before: str | None) -> list[Entry]:
        if not before or before == "0":
            return entries
        ids = [str(e.id) for e in entries]
        return entries[ids.index(before) + 1 :] if before in ids else []

    def install(self) -> None:
        cat = self.catalog
        self.route(r"/api/v1/account/me")(self.guarded(lambda r, m: self.ok({"account": {"id": "9001", "username": "viewer"}})))
        self.route(r"/api/v1/account")(self.guarded(self.account))
        self.route(rf"/api/v1/timelinenew/{cat.user_id}")(self.guarded(self.timeline))
        self.route(r"/api/v1/messaging/groups")(self.guarded(
            lambda r, m: self.ok({"data": [{"groupId": "g1", "partnerAccountId": str(cat.user_id)}]})))
        self.route(r"/api/v1/message")(self.guarded(self.messages))
        self.route(r"/api/v1/mediastoriesnew")(self.guarded(self.stories))

    def account(self, req: OriginRequest, match: Any) -> Response:
        cat = self.catalog
        if query_params(req).get("usernames") != cat.username:
            return self.ok([])
        videos = sum(1 for m in cat.all_media() if m.kind == "video")
        return self.ok([{"id": str(cat.user_id), "username": cat.username, "displayName": cat.name,
                         "about": "About me", "followCount": 12,
                         "timelineStats": {"imageCount": len(cat.all_media()) - videos, "videoCount": videos}}])

    def timeline(self, req: OriginRequest, match: Any) -> Response:
        page = self.after(self.catalog.posts, query_params(req).get("before"))[:PAGE]
        return self.ok(self.entries_payload(page, "posts", bundle_first=True))

    def messages(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        limit = int(params.get("limit", 25))
        page = self.after(self.catalog.messages, params.get("before"))[:limit]
        return self.ok(self.entries_payload(page, "messages"))

    def stories(self, req: OriginRequest, match: Any) -> Response:
        payload = self.entries_payload(self.catalog.stories, "stories")
        stories = [{"id": s["id"], "accountId": s["accountId"], "contentType": 1,
                    "contentId": s["attachments"][0]["contentId"], "createdAt": s["createdAt"]}
                   for s in payload.pop("stories")]
        return self.ok({"mediaStories": stories, **payload})
