"""Alembic environment: online migrations only, serialised across processes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from mediavault.jobs.db import write_engine
from mediavault.jobs.tables import Base

# Any constant works; it only has to be the same in every process migrating this database.
_PG_MIGRATION_LOCK = 0x6D7661756C74


def run_migrations_online() -> None:
    config = context.config
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    is_sqlite = engine.dialect.name == "sqlite"
    with write_engine(engine).connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": _PG_MIGRATION_LOCK})
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
