"""The API's short-lived caches: verified API keys (``api.authcache``) and /health."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from mediavault.jobs.tables import ApiKey, User, utcnow
from tests.api.conftest import Api, ApiFactory
from tests.api.test_users_keys import assert_error


def _revoke_behind_the_api(api: Api, user_id: str) -> None:
    """What ``mediavault keys revoke`` in another process does: the row, not this API."""
    with api.services.db.sessionmaker() as session:
        session.execute(update(ApiKey).where(ApiKey.user_id == user_id).values(revoked_at=utcnow()))
        session.commit()


async def test_a_key_revoked_elsewhere_stops_working_within_the_ttl(
    start_api: ApiFactory,
) -> None:
    api = start_api(auth_cache_seconds=0.6)
    async with api.client(api.alice) as client:
        assert (await client.get("/api/v1/users/me")).status_code == 200  # verified: cached
        _revoke_behind_the_api(api, api.alice.user_id)
        # the cache answers until the TTL runs out (this is what saves the two queries)
        assert (await client.get("/api/v1/users/me")).status_code == 200
        await asyncio.sleep(0.7)
        assert_error(await client.get("/api/v1/users/me"), 401, "unauthorized")


async def test_without_a_ttl_every_request_checks_the_database(start_api: ApiFactory) -> None:
    api = start_api(auth_cache_seconds=0)
    async with api.client(api.alice) as client:
        assert (await client.get("/api/v1/users/me")).status_code == 200
        _revoke_behind_the_api(api, api.alice.user_id)
        assert_error(await client.get("/api/v1/users/me"), 401, "unauthorized")


async def test_revoking_or_disabling_through_the_api_applies_at_once(
    start_api: ApiFactory,
) -> None:
    api = start_api(auth_cache_seconds=60)
    async with api.client(api.alice) as client:
        created = (await client.post("/api/v1/keys", json={"name": "phone"})).json()
        phone = {"X-API-Key": created["key"]}
        assert (await client.get("/api/v1/users/me", headers=phone)).status_code == 200
        revoked = await client.delete(f"/api/v1/keys/{created['id']}")
        assert revoked.status_code == 200, revoked.text
        assert_error(await client.get("/api/v1/users/me", headers=phone), 401, "unauthorized")
        assert (await client.get("/api/v1/users/me")).status_code == 200
    async with api.client(api.bob) as bob, api.client(api.admin) as admin:
        assert (await bob.get("/api/v1/users/me")).json()["role"] == "user"
        await admin.patch(f"/api/v1/users/{api.bob.user_id}", json={"role": "admin"})
        assert (await bob.get("/api/v1/users/me")).json()["role"] == "admin"
        await admin.patch(f"/api/v1/users/{api.bob.user_id}", json={"disabled": True})
        assert_error(await bob.get("/api/v1/users/me"), 401, "unauthorized")


async def test_cached_callers_are_separate_copies(start_api: ApiFactory) -> None:
    api = start_api(auth_cache_seconds=60)
    cache = api.services.auth_cache
    async with api.client(api.alice) as client:
        assert (await client.get("/api/v1/users/me")).status_code == 200
    first, second = cache.get(api.alice.key), cache.get(api.alice.key)
    assert isinstance(first, User) and isinstance(second, User)
    assert first is not second and first.id == second.id == api.alice.user_id
    first.role = "admin"  # a request scribbling on its copy changes nobody else's
    assert second.role == "user" and cache.get(api.alice.key).role == "user"  # type: ignore[union-attr]
    assert cache.get("mv_other_key") is None


async def test_health_probes_once_per_ttl(start_api: ApiFactory) -> None:
    api = start_api(health_cache_seconds=0.5)
    storage = api.services.storage
    probes = 0
    real = storage.check_writable

    async def counted() -> None:
        nonlocal probes
        probes += 1
        await real()

    storage.check_writable = counted  # type: ignore[method-assign]
    async with api.client() as client:
        bodies = await asyncio.gather(*(client.get("/api/v1/health") for _ in range(20)))
        assert {r.status_code for r in bodies} == {200}
        assert len({r.content for r in bodies}) == 1  # one probe, shared
        assert probes == 1
        await asyncio.sleep(0.6)
        stale_until = api.services.health.expires  # before the call: its refresh may land fast
        stale = await client.get("/api/v1/health")  # answered at once; one refresh starts
        assert stale.content == bodies[0].content
        async with asyncio.timeout(10):
            while probes < 2 or api.services.health.refreshing is not None:
                await asyncio.sleep(0.02)
        assert api.services.health.expires > stale_until  # the refresh landed
        fresh = await client.get("/api/v1/health")
    assert fresh.status_code == 200 and fresh.json()["status"] == "ok"
    assert probes == 2
