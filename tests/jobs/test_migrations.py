"""The Alembic migrations produce exactly the schema in ``mediavault.jobs.tables``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from mediavault.config import Settings
from mediavault.jobs.engine import Engine
from mediavault.jobs.tables import Base
from tests.jobs.conftest import settings_env


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert set(Base.metadata.tables) <= tables and "alembic_version" in tables


def test_db_upgrade_command_is_idempotent(jobs_settings: Settings) -> None:
    cli = str(Path(sys.executable).parent / "mediavault")
    for _ in range(2):
        result = subprocess.run(
            [cli, "db", "upgrade"], env=settings_env(jobs_settings), capture_output=True,
            text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
