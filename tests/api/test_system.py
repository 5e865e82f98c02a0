"""Health, Prometheus metrics, stats, the dashboard and the OpenAPI document."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api


async def test_health_checks_every_dependency(api: Api) -> None:
    async with api.client() as client:
        response = await client.get("/api/v1/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "queue", "storage", "ffmpeg"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"] == "sqlite"


async def test_health_reports_a_missing_ffmpeg_as_degraded(start_api) -> None:
    api = start_api(ffmpeg="/nonexistent/ffmpeg")
    async with api.client() as client:
        response = await client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["ffmpeg"]["ok"] is False


async def test_metrics_parse_with_the_official_parser(api: Api) -> None:
    async with api.client(api.alice) as client:
        await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/a.mp4"})
        await client.get("/api/v1/jobs")
        text = (await client.get("/api/v1/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "mediavault_jobs",
        "mediavault_jobs_in_flight",
        "mediavault_queue_depth",
        "mediavault_job_duration_seconds",
        "mediavault_downloaded_bytes",
        "mediavault_storage_used_bytes",
        "mediavault_http_request_duration_seconds",
    ):
        assert name in families, name
    queued = [
        s.value
        for s in families["mediavault_jobs"].samples
        if s.labels == {"kind": "download", "status": "queued"}
    ]
    assert queued == [1.0]
    routes = {
        s.labels.get("route") for s in families["mediavault_http_request_duration_seconds"].samples
    }
    assert "/api/v1/jobs" in routes


async def test_stats_are_scoped_to_the_caller(api: Api) -> None:
    async with api.client(api.alice) as client:
        await client.post("/api/v1/download", json={"url": "http://127.0.0.1:9/a.mp4"})
        mine = (await client.get("/api/v1/stats")).json()
    async with api.client(api.bob) as client:
        bobs = (await client.get("/api/v1/stats")).json()
    async with api.client(api.admin) as client:
        everyone = (await client.get("/api/v1/stats")).json()
    assert mine["scope"] == "user" and mine["jobs_total"] == 1 and mine["queue_depth"] == 1
    assert bobs["jobs_total"] == 0 and bobs["success_rate"] is None
    assert everyone["scope"] == "all" and everyone["jobs_total"] == 1


async def test_dashboard_and_openapi_are_served(api: Api) -> None:
    async with api.client() as client:
        page = await client.get("/")
        assert page.status_code == 200 and "mediavault" in page.text
        assert (await client.get("/static/app.js")).status_code == 200
        spec = (await client.get("/api/openapi.json")).json()
        docs = await client.get("/api/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    for path in (
        "/api/v1/download",
        "/api/v1/download/{job_id}",
        "/api/v1/download/{job_id}/logs",
        "/api/v1/download/{job_id}/file",
        "/api/v1/formats",
        "/api/v1/playlist/preview",
        "/api/v1/playlist/download",
        "/api/v1/channel/info",
        "/api/v1/channel/download",
        "/api/v1/batch/download",
        "/api/v1/batch/{batch_id}",
        "/api/v1/metadata",
        "/api/v1/auth/cookies",
        "/api/v1/auth/cookies/{cookies_id}",
        "/api/v1/health",
        "/api/v1/metrics",
        "/api/v1/stats",
        "/api/v1/jobs",
        "/api/v1/events",
        "/api/v1/media",
        "/api/v1/users",
        "/api/v1/keys",
        "/api/v1/auth/token",
        "/api/v1/webhooks",
    ):
        assert path in paths, path
    assert "ApiKey" in spec["components"]["securitySchemes"]
    assert "ErrorBody" in spec["components"]["schemas"]
