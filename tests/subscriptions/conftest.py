"""Fixtures reused from other test packages: the API server (``tests/api``) and the job
engine on SQLite and on PostgreSQL + Redis (``tests/jobs``)."""

from tests.api.conftest import api_settings, start_api  # noqa: F401 - re-exported fixtures
from tests.jobs.conftest import (  # noqa: F401 - re-exported fixtures
    backend,
    engine,
    jobs_settings,
    pg_database,
    start_worker,
)
