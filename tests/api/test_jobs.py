"""Job submission and access: SSRF refusals, ownership, idempotency, quotas, cookies.

No worker runs here: jobs stay queued, which is all these checks need.
"""

from __future__ import annotations

from typing import Any

import pytest

from mediavault import accounts
from tests.api.conftest import Api
from tests.api.test_users_keys import assert_error

ORIGIN_URL = "http://127.0.0.1:9/video.mp4"  # never fetched: no worker runs


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.mp4",
        "http://[::1]/x.mp4",
        "http://10.1.2.3/x.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/x.mp4",
        "http://[::ffff:127.0.0.1]/x.mp4",
        "ftp://127.0.0.1/x.mp4",
        "file:///etc/passwd",
        "http://example.com/x.mp4",  # outside MEDIAVAULT_ALLOWED_HOSTS
    ],
)
async def test_private_and_foreign_urls_are_refused(start_api, url: str) -> None:
    api = start_api(allow_private_networks=False)
    async with api.client(api.alice) as client:
        response = await client.post("/api/v1/download", json={"url": url})
        assert_error(response, 422, "url_blocked")
        response = await client.post(
            "/api/v1/webhooks", json={"url": url if url.startswith("http") else "http://10.0.0.1/"}
        )
        assert_error(response, 422, "url_blocked")
        response = await client.post("/api/v1/batch/download", json={"urls": [url]})
        assert_error(response, 422, "url_blocked")
    with api.services.db.sessionmaker() as session:
        from mediavault.jobs.tables import Job

        assert session.query(Job).count() == 0


async def test_a_hostname_resolving_to_loopback_is_refused(start_api) -> None:
    api = start_api(allow_private_networks=False, allowed_hosts=[])
    async with api.client(api.alice) as client:
        response = await client.post("/api/v1/download", json={"url": "http://localhost/x"})
        assert_error(response, 422, "url_blocked")
        assert "127.0.0.1" in str(response.json()["error"]["detail"]) or "::1" in str(
            response.json()["error"]["detail"]
        )


async def test_domain_deny_and_allow_lists(start_api) -> None:
    api = start_api(denied_domains=["localhost"], allowed_hosts=[])
    async with api.client(api.alice) as client:
        response = await client.post("/api/v1/download", json={"url": "http://localhost/x"})
        assert_error(response, 422, "url_blocked")
        assert "not an allowed domain" in response.json()["error"]["message"]
        ok = await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/x"})
        assert ok.status_code == 202


async def test_jobs_belong_to_their_owner(api: Api) -> None:
    async with api.client(api.alice) as alice:
        created = await alice.post(
            "/api/v1/download",
            json={"url": ORIGIN_URL, "quality": "720p", "subtitles": ["en"], "priority": 5},
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued" and job["kind"] == "download"
        assert job["options"]["format"] == "720p" and job["options"]["subtitles"] == ["en"]
        assert job["priority"] == 5
        assert (await alice.get(f"/api/v1/download/{job['id']}")).json()["id"] == job["id"]
        logs = await alice.get(f"/api/v1/download/{job['id']}/logs")
        assert logs.status_code == 200 and logs.json()["job_id"] == job["id"]
    async with api.client(api.bob) as bob:
        for response in (
            await bob.get(f"/api/v1/download/{job['id']}"),
            await bob.get(f"/api/v1/download/{job['id']}/logs"),
            await bob.get(f"/api/v1/download/{job['id']}/file"),
            await bob.delete(f"/api/v1/download/{job['id']}"),
            await bob.get(f"/api/v1/jobs/{job['id']}"),
        ):
            assert_error(response, 404, "not_found")
        assert (await bob.get("/api/v1/jobs")).json()["items"] == []
        assert_error(await bob.get("/api/v1/jobs", params={"all": "true"}), 403, "forbidden")
    async with api.client(api.admin) as admin:
        listed = (await admin.get("/api/v1/jobs", params={"all": "true"})).json()["items"]
        assert [j["id"] for j in listed] == [job["id"]]
    async with api.client(api.alice) as alice:
        assert_error(await alice.get(f"/api/v1/download/{job['id']}/file"), 409, "conflict")
        cancelled = await alice.delete(f"/api/v1/download/{job['id']}")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"


async def test_list_jobs_filters_and_pages(api: Api) -> None:
    async with api.client(api.alice) as client:
        ids = []
        for n in range(5):
            r = await client.post("/api/v1/download", json={"url": f"http://127.0.0.1:9/{n}"})
            ids.append(r.json()["id"])
        await client.delete(f"/api/v1/download/{ids[0]}")
        first = (await client.get("/api/v1/jobs", params={"limit": 2})).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        seen = [j["id"] for j in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = (await client.get("/api/v1/jobs", params={"limit": 2, "cursor": cursor})).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
        assert seen == list(reversed(ids))
        cancelled = (await client.get("/api/v1/jobs", params={"status": "cancelled"})).json()
        assert [j["id"] for j in cancelled["items"]] == [ids[0]]
        assert_error(
            await client.get("/api/v1/jobs", params={"cursor": "garbage"}), 422, "invalid_input"
        )


async def test_idempotency_key_returns_the_same_job(api: Api) -> None:
    body = {"url": ORIGIN_URL, "idempotency_key": "order-17"}
    async with api.client(api.alice) as client:
        first = (await client.post("/api/v1/download", json=body)).json()
        again = (await client.post("/api/v1/download", json=body)).json()
        assert first["id"] == again["id"]
    async with api.client(api.bob) as client:  # keys are per user
        other = (await client.post("/api/v1/download", json=body)).json()
        assert other["id"] != first["id"]


async def test_quotas_refuse_with_clear_errors(api: Api) -> None:
    with api.services.db.sessionmaker() as session:
        alice = accounts.get_user(session, "alice")
        accounts.update_user(session, alice, quota_concurrent_jobs=1)
        bob = accounts.get_user(session, "bob")
        accounts.update_user(session, bob, quota_storage_bytes=0)
    async with api.client(api.alice) as client:
        assert (await client.post("/api/v1/download", json={"url": ORIGIN_URL})).status_code == 202
        response = await client.post("/api/v1/download", json={"url": ORIGIN_URL + "?2"})
        assert_error(response, 429, "quota_exceeded")
    async with api.client(api.bob) as client:
        response = await client.post("/api/v1/download", json={"url": ORIGIN_URL})
        assert_error(response, 403, "storage_quota_exceeded")


async def test_cookies_are_private_encrypted_and_never_returned(api: Api) -> None:
    netscape = "# Netscape HTTP Cookie File\n.127.0.0.1\tTRUE\t/\tFALSE\t0\tsession\ts3cr3t-value\n"
    async with api.client(api.alice) as alice:
        created = await alice.post(
            "/api/v1/auth/cookies", json={"cookies": netscape, "name": "site"}
        )
        assert created.status_code == 201, created.text
        cookie = created.json()
        assert cookie["cookie_count"] == 1 and "s3cr3t" not in created.text
        listed = await alice.get("/api/v1/auth/cookies")
        assert [c["id"] for c in listed.json()] == [cookie["id"]] and "s3cr3t" not in listed.text
        header_style = await alice.post(
            "/api/v1/auth/cookies",
            json={"cookies": "a=1; b=2", "name": "hdr", "domain": "127.0.0.1"},
        )
        assert header_style.json()["cookie_count"] == 2
        bad = await alice.post("/api/v1/auth/cookies", json={"cookies": "   "})
        assert_error(bad, 422, "invalid_input")
        job = await alice.post(
            "/api/v1/download", json={"url": ORIGIN_URL, "cookies_id": cookie["id"]}
        )
        assert job.status_code == 202
    with api.services.db.sessionmaker() as session:
        from mediavault.jobs.tables import Credential

        row = session.get(Credential, cookie["id"])
        assert b"s3cr3t" not in row.data_enc
    async with api.client(api.bob) as bob:
        assert (await bob.get("/api/v1/auth/cookies")).json() == []
        response = await bob.post(
            "/api/v1/download", json={"url": ORIGIN_URL, "cookies_id": cookie["id"]}
        )
        assert_error(response, 404, "not_found")
        assert_error(await bob.delete(f"/api/v1/auth/cookies/{cookie['id']}"), 404, "not_found")
    async with api.client(api.alice) as alice:
        assert (await alice.delete(f"/api/v1/auth/cookies/{cookie['id']}")).status_code == 204
        assert_error(await alice.delete(f"/api/v1/auth/cookies/{cookie['id']}"), 404, "not_found")


async def test_batch_playlist_channel_jobs(api: Api) -> None:
    async with api.client(api.alice) as client:
        batch = await client.post(
            "/api/v1/batch/download",
            json={"urls": ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], "audio_only": True},
        )
        assert batch.status_code == 202, batch.text
        status = (await client.get(f"/api/v1/batch/{batch.json()['id']}")).json()
        assert status["kind"] == "batch" and status["children"] == []
        playlist = await client.post(
            "/api/v1/playlist/download",
            json={"url": "http://127.0.0.1:9/feed.rss", "playlist_items": "1-3,5"},
        )
        assert playlist.json()["options"]["playlist_items"] == "1-3,5"
        assert_error(
            await client.post(
                "/api/v1/playlist/download",
                json={"url": "http://127.0.0.1:9/f", "playlist_items": "x"},
            ),
            422,
            "invalid_input",
        )
        channel = await client.post(
            "/api/v1/channel/download",
            json={
                "url": "http://127.0.0.1:9/feed.rss",
                "filters": {"min_duration": 1, "date_after": "20240101"},
            },
        )
        assert channel.status_code == 202
        # a download job is not a batch
        assert_error(await client.get(f"/api/v1/batch/{channel.json()['id']}"), 404, "not_found")
        cancelled = await client.delete(f"/api/v1/batch/{batch.json()['id']}")
        assert cancelled.json()["status"] == "cancelled"
    async with api.client(api.bob) as client:
        assert_error(await client.get(f"/api/v1/batch/{batch.json()['id']}"), 404, "not_found")
        assert_error(await client.delete(f"/api/v1/batch/{batch.json()['id']}"), 404, "not_found")


async def test_every_stored_file_of_a_multi_file_job_is_served(api: Api) -> None:
    """A playlist URL given to /download stores several files: each has its URL."""
    from mediavault.jobs.tables import Job
    from mediavault.models import JobStatus

    async with api.client(api.alice) as alice:
        job = (await alice.post("/api/v1/download", json={"url": ORIGIN_URL})).json()
        keys = ["list/one.mp4", "list/two.mp4", "list/three.mp4"]
        for n, key in enumerate(keys):
            path = api.services.storage.local_path(key)
            assert path is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"file {n}".encode() * 100)
        with api.services.db.sessionmaker() as session:
            row = session.get(Job, job["id"])
            assert row is not None
            row.status = JobStatus.COMPLETED
            row.result = {"paths": keys, "items": []}
            session.commit()
        status = (await alice.get(f"/api/v1/jobs/{job['id']}")).json()
        base = f"/api/v1/download/{job['id']}/file"
        assert status["file_url"] == base
        assert status["file_urls"] == [base, f"{base}?index=1", f"{base}?index=2"]
        for n, url in enumerate(status["file_urls"]):
            response = await alice.get(url)
            assert response.status_code == 200 and response.content == f"file {n}".encode() * 100
        part = await alice.get(f"{base}?index=2", headers={"Range": "bytes=0-5"})
        assert part.status_code == 206 and part.content == b"file 2"
        assert_error(await alice.get(f"{base}?index=3"), 404, "not_found")
        assert_error(await alice.get(f"{base}?index=-1"), 422, "invalid_input")
    async with api.client(api.bob) as bob:
        assert_error(await bob.get(f"{base}?index=1"), 404, "not_found")


async def test_head_answers_health_and_files_without_a_body(api: Api) -> None:
    from mediavault.jobs.tables import Job
    from mediavault.models import JobStatus

    async with api.client(api.alice) as alice:
        health = await alice.head("/api/v1/health")
        assert health.status_code == (await alice.get("/api/v1/health")).status_code
        assert health.content == b"" and health.headers["content-type"] == "application/json"
        job = (await alice.post("/api/v1/download", json={"url": ORIGIN_URL})).json()
        path = api.services.storage.local_path("v/one.mp4")
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 5000)
        with api.services.db.sessionmaker() as session:
            row = session.get(Job, job["id"])
            assert row is not None
            row.status = JobStatus.COMPLETED
            row.result = {"paths": ["v/one.mp4"], "items": []}
            session.commit()
        url = f"/api/v1/download/{job['id']}/file"
        head = await alice.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == "5000"
        assert head.headers["accept-ranges"] == "bytes"
        part = await alice.head(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.headers["content-range"] == "bytes 10-19/5000"
        openapi = (await alice.get("/api/openapi.json")).json()
        assert all("head" not in ops for ops in openapi["paths"].values())
        assert "get" in openapi["paths"]["/api/v1/download/{job_id}/file"]
    async with api.client(api.bob) as bob:
        assert (await bob.head(url)).status_code == 404  # ownership holds for HEAD too


async def test_head_of_an_object_store_file_does_not_read_the_object() -> None:
    from mediavault.api.files import serve_key

    class Remote:  # an object store: no local path; reading the object is not allowed
        def local_path(self, key: str) -> None:
            return None

        async def exists(self, key: str) -> bool:
            return True

        async def size(self, key: str) -> int:
            return 1234

        def open_range(self, key: str, start: int, end: int) -> Any:
            raise AssertionError("a HEAD read the object")

    services = type("S", (), {"storage": Remote()})()
    response = await serve_key(services, "a/b.mp4", "bytes=0-99", head=True)  # type: ignore[arg-type]
    assert response.status_code == 206
    assert response.headers["content-length"] == "100"
    assert response.headers["content-range"] == "bytes 0-99/1234"


async def test_a_trailing_slash_is_answered_in_place(api: Api) -> None:
    async with api.client(api.alice) as alice:  # the client does not follow redirects
        created = await alice.post("/api/v1/download/", json={"url": ORIGIN_URL})
        assert created.status_code == 202, created.text
        listed = await alice.get("/api/v1/jobs/", params={"limit": 5})
        assert listed.status_code == 200
        assert [j["id"] for j in listed.json()["items"]] == [created.json()["id"]]
        one = await alice.get(f"/api/v1/download/{created.json()['id']}/")
        assert one.status_code == 200 and one.json()["id"] == created.json()["id"]
        assert_error(await alice.get("/api/v1/no-such-thing/"), 404, "not_found")
