"""Structured logs: one JSON line per request, carrying the request id the client sees."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import ApiFactory


async def test_access_log_is_json_with_the_request_id(
    start_api: ApiFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    api = start_api(log_level="INFO")  # log_json unset: JSON, stderr is no terminal here
    async with api.client(api.alice) as client:
        response = await client.get("/api/v1/jobs")
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    lines = [line for line in capsys.readouterr().out.splitlines() if request_id in line]
    assert lines, "no log line carries the request id"
    record = json.loads(lines[-1])
    assert record["request_id"] == request_id
    assert record["path"] == "/api/v1/jobs" and record["status"] == 200
    assert api.alice.key not in "\n".join(lines)  # the key itself is never logged
