"""Webhooks: HMAC-signed deliveries, retry after a 500, the delivery log, ownership;
Apprise notifications on final job events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

from tests.api.conftest import Api
from tests.api.test_users_keys import assert_error
from tests.support.origin import Origin, OriginRequest


class Receiver:
    """Routes on the test origin that record POSTs; answers 500 to the first ``fail``."""

    def __init__(self, origin: Origin, path: str, *, fail: int = 0) -> None:
        self.calls: list[OriginRequest] = []
        self.fail = fail
        origin.routes[path] = self
        self.url = origin.url(path)

    def __call__(self, request: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        self.calls.append(request)
        if len(self.calls) <= self.fail:
            return 500, {"Content-Type": "text/plain"}, b"try again"
        return 200, {"Content-Type": "text/plain"}, b"ok"


async def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def verify(secret: str, request: OriginRequest) -> dict:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Mediavault-Signature"], expected)
    return json.loads(request.body)


async def test_signed_delivery_retried_after_a_500(api: Api, origin: Origin) -> None:
    receiver = Receiver(origin, "/hook", fail=1)
    async with api.client(api.alice) as client:
        created = await client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "events": ["job.queued", "job.cancelled"]},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook["secret"]
        assert len(secret) >= 32
        listed = (await client.get("/api/v1/webhooks")).json()
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        job = (await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/v"})).json()
        await wait_for(lambda: len(receiver.calls) >= 2)
        first, second = receiver.calls[:2]
        assert first.body == second.body  # the same delivery, retried
        event = verify(secret, second)
        assert event["type"] == "job.queued" and event["job_id"] == job["id"]
        assert set(event) == {
            "type",
            "job_id",
            "status",
            "downloaded_bytes",
            "total_bytes",
            "speed",
            "eta",
            "ts",
        }

        async def delivered():
            rows = (await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries")).json()
            return rows

        await wait_for(lambda: True)
        deadline = time.monotonic() + 10
        while True:
            rows = await delivered()
            if rows and rows[0]["status"] == "ok":
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.1)
        assert rows[0]["attempt"] == 2 and rows[0]["status_code"] == 200
        assert rows[0]["event_type"] == "job.queued" and rows[0]["delivered_at"]
    async with api.client(api.bob) as bob:  # other users see nothing of it
        assert (await bob.get("/api/v1/webhooks")).json() == []
        assert_error(await bob.get(f"/api/v1/webhooks/{hook['id']}"), 404, "not_found")
        assert_error(await bob.get(f"/api/v1/webhooks/{hook['id']}/deliveries"), 404, "not_found")
        assert_error(await bob.delete(f"/api/v1/webhooks/{hook['id']}"), 404, "not_found")
    async with api.client(api.alice) as client:
        assert (await client.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
        assert (await client.get("/api/v1/webhooks")).json() == []


async def test_job_webhook_url_is_signed_with_the_user_secret(api: Api, origin: Origin) -> None:
    receiver = Receiver(origin, "/job-hook")
    async with api.client(api.alice) as client:
        secret = (await client.get("/api/v1/webhooks/signing-secret")).json()["secret"]
        job = (
            await client.post(
                "/api/v1/download",
                json={"url": "http://127.0.0.1:9/v", "webhook_url": receiver.url},
            )
        ).json()
        await client.delete(f"/api/v1/download/{job['id']}")
        await wait_for(lambda: len(receiver.calls) >= 2)
    types = [verify(secret, call)["type"] for call in receiver.calls]
    assert types == ["job.queued", "job.cancelled"]
    async with api.client(api.bob) as bob:
        other = (await bob.get("/api/v1/webhooks/signing-secret")).json()["secret"]
        assert other != secret


async def test_apprise_notification_on_final_event(api: Api, origin: Origin) -> None:
    receiver = Receiver(origin, "/notify")
    target = f"json://127.0.0.1:{origin.base_url.rsplit(':', 1)[1]}/notify"
    async with api.client(api.alice) as client:
        response = await client.put("/api/v1/users/me/notifications", json={"urls": [target]})
        assert response.status_code == 200, response.text
        assert response.json()["targets"] == ["json://127.0.0.1/…"]
        refused = await client.put(
            "/api/v1/users/me/notifications", json={"urls": ["tgram://123456:abcdef/987"]}
        )
        assert_error(refused, 422, "url_blocked")  # would reach a third-party host
        job = (await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/v"})).json()
        await client.delete(f"/api/v1/download/{job['id']}")
        await wait_for(lambda: len(receiver.calls) >= 1)
    body = json.loads(receiver.calls[0].body)
    assert "cancelled" in body["title"] and job["id"] in body["message"]
