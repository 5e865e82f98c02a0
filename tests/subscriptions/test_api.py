"""The REST face of subscriptions, profile scrapes and platform credentials (no worker)."""

from __future__ import annotations

from sqlalchemy import select

from mediavault.jobs.tables import Credential
from tests.api.conftest import Api
from tests.api.test_users_keys import assert_error

FEED = "http://127.0.0.1:9/feed.rss"


async def test_subscription_crud_and_sync_job(start_api) -> None:
    api: Api = start_api()
    async with api.client(api.alice) as client:
        created = await client.post(
            "/api/v1/subscriptions",
            json={"url": "https://onlyfans.com/alice", "mode": "new", "interval_seconds": "2h",
                  "filters": {"title_regex": "^Clip", "date_after": "20240101"},
                  "options": {"format": "720p"}},
        )
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["platform"] == "onlyfans" and sub["interval_seconds"] == 7200
        assert sub["filters"] == {"title_regex": "^Clip", "date_after": "20240101"}
        listed = (await client.get("/api/v1/subscriptions")).json()
        assert [s["id"] for s in listed] == [sub["id"]]
        patched = await client.patch(f"/api/v1/subscriptions/{sub['id']}", json={"enabled": False})
        assert patched.json()["enabled"] is False
        job = await client.post(f"/api/v1/subscriptions/{sub['id']}/sync")
        assert job.status_code == 202 and job.json()["kind"] == "subscription_sync"
        assert_error(await client.post("/api/v1/subscriptions", json={"url": "gopher://x"}), 422, "url_blocked")
        assert_error(
            await client.post("/api/v1/subscriptions", json={"url": FEED, "filters": {"title_regex": "("}}),
            422, "invalid_input",
        )
    async with api.client(api.bob) as client:
        assert (await client.get("/api/v1/subscriptions")).json() == []
        assert_error(await client.get(f"/api/v1/subscriptions/{sub['id']}"), 404, "not_found")
        assert_error(await client.delete(f"/api/v1/subscriptions/{sub['id']}"), 404, "not_found")
    async with api.client(api.alice) as client:
        assert (await client.delete(f"/api/v1/subscriptions/{sub['id']}")).status_code == 204
        assert (await client.get("/api/v1/subscriptions")).json() == []


async def test_credentials_are_encrypted_and_never_returned(start_api) -> None:
    api: Api = start_api()
    secret = "auth_id=777; sess=TOP-SECRET-SESSION"
    async with api.client(api.alice) as client:
        put = await client.put(
            "/api/v1/credentials/onlyfans",
            json={"cookie": secret, "user_agent": "UA/1", "token": "xbc-secret"},
        )
        assert put.status_code == 204
        listed = await client.get("/api/v1/credentials")
        assert [c["platform"] for c in listed.json()] == ["onlyfans"]
        assert "TOP-SECRET" not in listed.text and "xbc-secret" not in listed.text
        assert_error(await client.put("/api/v1/credentials/onlyfans", json={"cookie": "x"}), 422, "invalid_input")
    with api.services.db.sessionmaker() as session:
        row = session.scalar(select(Credential).where(Credential.platform == "onlyfans"))
        assert row is not None and row.kind == "platform" and row.user_id == api.alice.user_id
        assert b"TOP-SECRET" not in row.data_enc and b"xbc-secret" not in row.data_enc
    async with api.client(api.bob) as client:
        assert (await client.get("/api/v1/credentials")).json() == []
        assert_error(await client.delete("/api/v1/credentials/onlyfans"), 404, "not_found")
    async with api.client(api.alice) as client:
        assert (await client.delete("/api/v1/credentials/onlyfans")).status_code == 204


async def test_profile_scrape_creates_a_job(start_api) -> None:
    api: Api = start_api()
    async with api.client(api.alice) as client:
        response = await client.post(
            "/api/v1/profiles/scrape", json={"url": "https://www.tiktok.com/@alice", "max_items": 5}
        )
        assert response.status_code == 202, response.text
        assert response.json()["kind"] == "profile_scrape" and response.json()["status"] == "queued"
        assert_error(
            await client.post("/api/v1/profiles/scrape", json={"url": "ftp://nope"}), 422, "unsupported_url"
        )
