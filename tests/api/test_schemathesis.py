"""Property-based checks of the whole OpenAPI document against the running service.

Every operation gets a bounded number of generated requests (as the admin, so the
admin-only routes are exercised too). Checks: no 5xx, documented status codes and
content types, bodies that match the declared schemas. Generated URLs outside
``MEDIAVAULT_ALLOWED_HOSTS`` must be refused with a 4xx and never fetched; the SSE
stream (endless by design) is covered by its own tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from mediavault.config import Settings
from tests.api.conftest import Server, _caller

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data: Path = tmp_path_factory.mktemp("schemathesis")
    config = Settings(
        data_dir=data,
        auth="apikey",
        rate_limit_per_minute=1_000_000,
        log_level="WARNING",
        allowed_hosts=["127.0.0.1", "localhost", "::1"],
        allow_private_networks=False,
        connect_timeout=2.0,
        read_timeout=5.0,
    )
    with Server(config) as server:
        admin = _caller(server.app.state.services, "admin", admin=True)
        yield server, admin.key


def test_api_conforms_to_its_openapi(live: tuple[Server, str]) -> None:
    server, key = live
    base_url = f"http://127.0.0.1:{server.port}"
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    schema = schema.exclude(path="/api/v1/events")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(
                base_url=base_url, headers={"X-API-Key": key}, checks=CHECKS, timeout=30
            )

        check()
