"""OnlyFans ``/api2/v2`` emulation: signed requests, session auth, posts/messages/stories.

Shapes follow the public adapters (UltimaScraperAPI, OF-Scraper): ``users/me``,
``users/{name}``, ``users/{id}/posts`` (``list``/``hasMore``/``tailMarker`` with
``beforePublishTime`` paging), ``chats/{id}/messages`` (``id`` paging), ``users/{id}/stories``,
``users/{id}/stories/highlights`` (``offset`` paging) and ``stories/highlights/{id}``;
media with ``files.full/preview/thumb``, ``videoSources`` and ``files.drm`` manifests.
The ``sign`` header is verified here with an independent implementation of the rules.

``variants`` switch on shapes the real API also sends (each one a gap that was found):

- ``php_arrays``: PHP serialises an empty ``videoSources`` as ``[]`` (photos), missing
  qualities as ``null``, and absent file entries as ``null`` (``files.preview: null``)
- ``bare_posts``: ``users/{id}/posts`` answers the bare list (no ``format=infinite``
  envelope), paged with ``beforePublishTime`` until an empty page
- ``bare_highlights``: ``stories/highlights`` answers the bare list (older API versions)
- ``paid``: locked media come with the post's ``price``/``isOpened`` and a teaser
  ``files.preview`` URL (the real locked-media shape)
- ``broken``: post 6 has a media object without files of any known shape, post 7 has
  no ``id`` (an answer the adapter cannot read must not end the listing)
- ``list_as_object``: the posts answer's ``list`` is an object (a changed shape)
- ``offset_paging``: posts and messages page by ``offset`` only (the way some clients
  call them); ``beforePublishTime`` and ``id`` are not read
- ``flat_media``: media in the oldest shape: flat ``url``/``preview``/``thumb`` (no
  ``files``), locked ones with ``locked: true`` and ``url: null``
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.emulators.base import Emulator, Response, json_response, query_params
from tests.emulators.content import Catalog, Entry, Media
from tests.support.origin import OriginRequest

RULES = {
    "static_param": "kT9aQ2mZ7xLr4VbN1cWd8eYf3gHj6Ups",
    "format": "31337:{}:{:x}:65f0aa21",
    "checksum_indexes": [0, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37],
    "checksum_constant": -212,
    "app_token": "33d57ade8c02dbc5a333db99ff9ae26a",
}
VIEWER_ID = 777
AUTH = {
    "cookie": f"auth_id={VIEWER_ID}; sess=s3cr3t-session-value",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) EmulatedBrowser/1.0",
    "x_bc": "b1c2d3e4f5a6b7c8d9e0",
}
PAGE_LIMIT_MAX = 10  # server-side cap on ``limit`` (so small catalogues still page)


def expected_sign(path: str, stamp: str, user_id: str) -> str:
    digest = hashlib.sha1(
        "\n".join([RULES["static_param"], stamp, path, user_id]).encode()
    ).hexdigest()
    total = sum(ord(digest[i]) for i in RULES["checksum_indexes"]) + RULES["checksum_constant"]
    return RULES["format"].format(digest, abs(total))


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class OnlyFansEmulator(Emulator):
    def __init__(self, media_root: Path, catalog: Catalog, *, page_cap: int = PAGE_LIMIT_MAX,
                 variants: tuple[str, ...] = ()) -> None:
        self.catalog = catalog
        self.page_cap = page_cap
        self.variants = set(variants)
        self.auth = dict(AUTH)
        super().__init__(media_root)

    # checks ------------------------------------------------------------------------
    def _check(self, req: OriginRequest) -> Response | None:
        headers = {k.lower(): v for k, v in req.headers.items()}
        full_path = req.path + (f"?{req.query}" if req.query else "")
        if headers.get("app-token") != RULES["app_token"] or headers.get("sign") != expected_sign(
            full_path, headers.get("time", ""), headers.get("user-id", "")
        ):
            return json_response({"error": {"code": 0, "message": "Wrong sign"}}, 400)
        cookie = headers.get("cookie", "")
        ok = (
            all(part.strip() in cookie for part in self.auth["cookie"].split(";"))
            and headers.get("user-agent") == self.auth["user_agent"]
            and headers.get("x-bc") == self.auth["x_bc"]
        )
        if not ok:
            return json_response({"error": {"code": 401, "message": "Please refresh the page"}}, 401)
        return None

    def guarded(self, handler: Any) -> Any:
        def wrapper(req: OriginRequest, match: Any) -> Response:
            return self._check(req) or handler(req, match)

        return wrapper

    # rendering ---------------------------------------------------------------------
    def media_json(self, media: Media, ts: int) -> dict[str, Any]:
        kind = media.kind
        out: dict[str, Any] = {
            "id": media.id,
            "type": kind,
            "canView": not media.locked,
            "createdAt": iso(ts),
            "hasError": False,
            "files": {"full": {"url": None}, "preview": {"url": None}, "thumb": {"url": None}},
        }
        if media.locked:
            if "flat_media" in self.variants:
                del out["files"]
                out.update(url=None, preview=None, thumb=None, locked=True)
                out.pop("canView")
            if "paid" in self.variants:
                out["files"]["preview"] = {"url": self.media_url(f"{media.id}/teaser.jpg", "photo")}
            return out
        if media.drm:
            out["files"]["drm"] = {
                "manifest": {
                    "hls": self.media_url(f"drm/{media.id}/master.m3u8", "video"),
                    "dash": self.media_url(f"drm/{media.id}/manifest.mpd", "video"),
                },
                "signature": {"hls": {"CloudFront-Policy": "x"}, "dash": {"CloudFront-Policy": "x"}},
            }
            return out
        ext = "mp4" if kind == "video" else "jpg"
        file_kind = "video" if kind == "video" else "photo"
        out["files"]["full"] = {
            "url": self.media_url(f"{media.id}/source.{ext}", file_kind),
            "width": 160,
            "height": 90,
            "size": None,
        }
        out["files"]["thumb"] = {"url": self.media_url(f"{media.id}/thumb.jpg", "photo")}
        if kind == "video":
            out["duration"] = 1
            out["videoSources"] = {
                "720": self.media_url(f"{media.id}/720.mp4", "video"),
                "240": self.media_url(f"{media.id}/240.mp4", "video"),
            }
        else:
            out["files"]["preview"] = {"url": self.media_url(f"{media.id}/preview.jpg", "photo")}
        if "flat_media" in self.variants:
            files = out.pop("files")
            out.update(url=files["full"]["url"], preview=(files.get("preview") or {}).get("url"),
                       thumb=files["thumb"]["url"], locked=False)
        if "php_arrays" in self.variants:
            if kind == "video":
                out["videoSources"] = {"720": out["videoSources"]["720"], "240": None}
                out["files"]["preview"] = None
            else:
                out["videoSources"] = []
        return out

    def entry_json(self, entry: Entry, kind: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": entry.id,
            "text": entry.text,
            "media": [self.media_json(m, entry.ts) for m in entry.media],
        }
        if kind == "post":
            data.update(postedAt=iso(entry.ts), postedAtPrecise=f"{entry.ts}.000000")
            data["canViewMedia"] = True
            if "paid" in self.variants and any(m.locked for m in entry.media):
                data.update(price=5, isOpened=False, canViewMedia=False)
            if "broken" in self.variants and entry.id == 10_006:
                data["media"] = [{"id": 999_006, "type": "video", "canView": True, "files": "n/a"}]
            if "broken" in self.variants and entry.id == 10_007:
                del data["id"]
        else:
            data["createdAt"] = iso(entry.ts)
            if kind == "message":
                data["fromUser"] = {"id": self.catalog.user_id}
        return data

    # routes ------------------------------------------------------------------------
    def install(self) -> None:
        cat = self.catalog
        uid = cat.user_id
        self.route(r"/api2/v2/users/me")(self.guarded(self.me))
        self.route(rf"/api2/v2/users/{uid}/posts")(self.guarded(self.posts))
        self.route(rf"/api2/v2/chats/{uid}/messages")(self.guarded(self.messages))
        self.route(rf"/api2/v2/users/{uid}/stories")(self.guarded(self.stories))
        self.route(rf"/api2/v2/users/{uid}/stories/highlights")(self.guarded(self.highlights))
        self.route(r"/api2/v2/stories/highlights/(\d+)")(self.guarded(self.highlight))
        self.route(r"/api2/v2/users/([A-Za-z0-9_.-]+)")(self.guarded(self.user))

    def me(self, req: OriginRequest, match: Any) -> Response:
        return json_response({"id": VIEWER_ID, "username": "viewer", "name": "Viewer", "isAuth": True})

    def user(self, req: OriginRequest, match: Any) -> Response:
        cat = self.catalog
        if match.group(1) != cat.username:
            return json_response({"error": {"code": 0, "message": "User not found"}}, 404)
        return json_response(
            {
                "id": cat.user_id,
                "username": cat.username,
                "name": cat.name,
                "about": "About me",
                "avatar": self.media_url("avatar.jpg", "photo"),
                "postsCount": len(cat.posts),
                "mediasCount": len(cat.all_media()),
                "subscribedBy": True,
            }
        )

    def posts(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        limit = min(int(params.get("limit", 10)), self.page_cap)
        before = params.get("beforePublishTime")
        if "offset_paging" in self.variants:
            before = None
        older = [p for p in self.catalog.posts if before is None or p.ts < float(before)]
        if "offset_paging" in self.variants:
            older = older[int(params.get("offset", 0)):]
        page = older[:limit]
        if "bare_posts" in self.variants:
            return json_response([self.entry_json(p, "post") for p in page])
        if "list_as_object" in self.variants:
            return json_response({"list": {"0": self.entry_json(page[0], "post")}, "hasMore": False})
        return json_response(
            {
                "list": [self.entry_json(p, "post") for p in page],
                "hasMore": len(older) > limit,
                "headMarker": f"{page[0].ts}.000000" if page else None,
                "tailMarker": f"{page[-1].ts}.000000" if page else None,
            }
        )

    def messages(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        limit = min(int(params.get("limit", 10)), self.page_cap)
        msgs = self.catalog.messages
        if "offset_paging" in self.variants:
            msgs = msgs[int(params.get("offset", 0)):]
        elif params.get("id"):
            ids = [m.id for m in msgs]
            msgs = msgs[ids.index(int(params["id"])) + 1 :]
        page = msgs[:limit]
        return json_response(
            {"list": [self.entry_json(m, "message") for m in page], "hasMore": len(msgs) > limit}
        )

    def stories(self, req: OriginRequest, match: Any) -> Response:
        return json_response([self.entry_json(s, "story") for s in self.catalog.stories])

    def highlights(self, req: OriginRequest, match: Any) -> Response:
        params = query_params(req)
        limit, offset = int(params.get("limit", 5)), int(params.get("offset", 0))
        items = list(self.catalog.highlights.items())
        page = items[offset : offset + limit]
        if "bare_highlights" in self.variants:
            return json_response([{"id": hid, "title": title} for hid, (title, s) in items])
        return json_response(
            {
                "list": [{"id": hid, "title": title, "storiesCount": len(s)} for hid, (title, s) in page],
                "hasMore": offset + limit < len(items),
            }
        )

    def highlight(self, req: OriginRequest, match: Any) -> Response:
        hid = int(match.group(1))
        if hid not in self.catalog.highlights:
            return json_response({"error": {"code": 0, "message": "Not found"}}, 404)
        title, stories = self.catalog.highlights[hid]
        return json_response(
            {"id": hid, "title": title, "stories": [self.entry_json(s, "story") for s in stories]}
        )
