"""Authentication, users, keys, JWT, and the error body shape."""

from __future__ import annotations

import pytest

from mediavault.api.app import create_app
from mediavault.config import Settings
from mediavault.errors import ConfigError
from tests.api.conftest import Api


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_requests_without_or_with_a_bad_key_are_refused(api: Api) -> None:
    async with api.client() as client:
        assert_error(await client.get("/api/v1/jobs"), 401, "unauthorized")
        response = await client.get("/api/v1/jobs", headers={"X-API-Key": "mv_nope_nope"})
        assert_error(response, 401, "unauthorized")
        response = await client.get("/api/v1/jobs", headers={"Authorization": "Bearer not-a-key"})
        assert_error(response, 401, "unauthorized")
    async with api.client(api.alice) as client:
        me = (await client.get("/api/v1/users/me")).json()
        assert me["name"] == "alice" and me["role"] == "user"


async def test_only_admins_manage_users(api: Api) -> None:
    async with api.client(api.alice) as client:
        assert_error(await client.get("/api/v1/users"), 403, "forbidden")
        assert_error(await client.post("/api/v1/users", json={"name": "eve"}), 403, "forbidden")
    async with api.client(api.admin) as client:
        created = await client.post(
            "/api/v1/users", json={"name": "carol", "quota_concurrent_jobs": 2}
        )
        assert created.status_code == 201, created.text
        assert created.json()["quota_concurrent_jobs"] == 2
        assert_error(await client.post("/api/v1/users", json={"name": "carol"}), 409, "conflict")
        names = [u["name"] for u in (await client.get("/api/v1/users")).json()]
        assert {"admin", "alice", "bob", "carol"} <= set(names)
        patched = await client.patch(
            f"/api/v1/users/{created.json()['id']}", json={"role": "admin"}
        )
        assert patched.json()["role"] == "admin"
        assert_error(await client.get("/api/v1/users/nobody"), 404, "not_found")


async def test_keys_create_list_revoke(api: Api) -> None:
    async with api.client(api.alice) as client:
        created = await client.post("/api/v1/keys", json={"name": "laptop"})
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith("mv_") and created.json()["name"] == "laptop"
        listed = (await client.get("/api/v1/keys")).json()
        assert all("key" not in k and "key_hash" not in k for k in listed)
        assert len(listed) == 2
        # a user cannot create keys for someone else, nor revoke their keys
        assert_error(await client.post("/api/v1/keys", json={"user": "bob"}), 403, "forbidden")
        bob_keys = api.services.db.sessionmaker()
        with bob_keys as session:
            from mediavault import accounts

            bob_key_id = accounts.list_keys(session, accounts.get_user(session, "bob"))[0].id
        assert_error(await client.delete(f"/api/v1/keys/{bob_key_id}"), 404, "not_found")
        revoked = await client.delete(f"/api/v1/keys/{created.json()['id']}")
        assert revoked.json()["revoked_at"] is not None
    async with api.client() as client:
        response = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
        assert_error(response, 401, "unauthorized")
    async with api.client(api.admin) as client:
        for_bob = await client.post("/api/v1/keys", json={"user": "bob", "name": "ops"})
        assert for_bob.json()["user_id"] == api.bob.user_id


async def test_jwt_from_password_or_key(start_api) -> None:
    api = start_api(auth="jwt")
    async with api.client(api.admin) as client:
        await client.post("/api/v1/users", json={"name": "dave", "password": "correct horse"})
    async with api.client() as client:
        bad = await client.post(
            "/api/v1/auth/token", json={"username": "dave", "password": "wrong password"}
        )
        assert_error(bad, 401, "unauthorized")
        good = await client.post(
            "/api/v1/auth/token", json={"username": "dave", "password": "correct horse"}
        )
        token = good.json()["access_token"]
        assert good.json()["token_type"] == "bearer"
        me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == "dave"
        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tampered}"}
        )
        assert_error(response, 401, "unauthorized")
        by_key = await client.post("/api/v1/auth/token", headers=api.alice.headers)
        token = by_key.json()["access_token"]
        me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == "alice"
        # keys keep working in jwt mode
        me = await client.get("/api/v1/users/me", headers=api.bob.headers)
        assert me.json()["name"] == "bob"


async def test_auth_none_acts_as_local_admin_on_loopback(start_api) -> None:
    api = start_api(auth="none")
    async with api.client() as client:
        me = (await client.get("/api/v1/users/me")).json()
        assert me["name"] == "local" and me["role"] == "admin"


def test_auth_none_is_refused_off_loopback(make_settings) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        with pytest.raises(ConfigError, match="loopback"):
            create_app(make_settings(auth="none", host=host))
    # with authentication on, any bind address is fine (the check runs before any I/O)
    settings: Settings = make_settings(auth="apikey", host="0.0.0.0")
    app = create_app(settings)
    app.state.services.close()


async def test_security_headers_request_id_and_size_limit(api: Api) -> None:
    async with api.client(api.alice) as client:
        response = await client.get("/api/v1/users/me", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        generated = await client.get("/api/v1/users/me")
        assert len(generated.headers["x-request-id"]) == 32
        huge = "x" * (api.services.settings.max_request_bytes + 10)
        response = await client.post("/api/v1/auth/cookies", json={"cookies": huge})
        assert_error(response, 413, "request_too_large")

        # chunked upload without Content-Length is cut off as well
        async def chunks():
            for _ in range(20):
                yield b"y" * 100_000

        response = await client.post(
            "/api/v1/auth/cookies", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert_error(response, 413, "request_too_large")


async def test_validation_errors_share_the_error_shape(api: Api) -> None:
    async with api.client(api.alice) as client:
        response = await client.post("/api/v1/download", json={"url": 5, "priority": 1000})
        assert_error(response, 422, "invalid_input")
        assert isinstance(response.json()["error"]["detail"], list)
        assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")
        assert_error(await client.put("/api/v1/jobs"), 405, "method_not_allowed")


async def test_rate_limit_per_key_and_ip(start_api) -> None:
    api = start_api(rate_limit_per_minute=5)
    async with api.client(api.alice) as client:
        statuses = [(await client.get("/api/v1/users/me")).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert statuses[-1] == 429
        response = await client.get("/api/v1/users/me")
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
