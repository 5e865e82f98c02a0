"""Database connection: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg 3).

``make_engine`` builds the engine, ``upgrade`` runs the Alembic migrations to head and
``Database`` holds both for a process. On SQLite, write transactions use
``BEGIN IMMEDIATE`` (``write_engine``) so a read-then-write transaction never dies with
"database is locked" when another process commits in between.

PostgreSQL connections are pinged when taken from the pool (a restarted server leaves
dead connections behind), except inside ``retry_on_disconnect``: the job store's hot
path skips that round trip and instead runs its unit of work once more on a fresh
connection when the first statement finds the pooled one dead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mediavault._sqlite import use_wal
from mediavault.config import Settings
from mediavault.errors import ConfigError

__all__ = [
    "Database",
    "make_engine",
    "make_sessionmaker",
    "retry_on_disconnect",
    "upgrade",
    "write_engine",
]

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
STORE_THREADS = 16  # threads running the job store's database work (jobs/_storebase.py)
PG_POOL_RECYCLE_SECONDS = 1800  # replace pooled connections older than this on checkout
_IMMEDIATE = "mediavault_immediate"
_FRESH = "mediavault_fresh"


def make_engine(settings: Settings) -> Engine:
    """An engine for ``settings.effective_database_url``."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings.effective_database_url, url.database)
    if url.get_backend_name() == "postgresql":
        engine = create_engine(
            url, pool_size=10, max_overflow=20, pool_recycle=PG_POOL_RECYCLE_SECONDS
        )
        _ping_on_checkout(engine)
        return engine
    raise ConfigError(f"unsupported database URL scheme {url.drivername!r}")


class _Unpinged(threading.local):
    active = False  # checkouts on this thread skip the ping (retry_on_disconnect)
    statements = 0  # statements completed in the current attempt


_unpinged = _Unpinged()


def _ping_on_checkout(engine: Engine) -> None:
    """``pool_pre_ping``, except for connections checked out in ``retry_on_disconnect``.

    A ping that finds the connection dead invalidates the whole pool (as pre-ping does):
    every connection older than that moment is replaced when next checked out.
    """
    dialect = engine.dialect

    @event.listens_for(engine.pool, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[_FRESH] = True  # just opened: no ping needed

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False) or _unpinged.active:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):
                raise exc.InvalidatePoolError() from err
            raise

    @event.listens_for(engine, "after_cursor_execute")
    def _on_statement(*_args: Any) -> None:
        _unpinged.statements += 1


def retry_on_disconnect(fn: Callable[[], T]) -> T:
    """Run ``fn`` (one unit of work: its own checkouts) without checkout pings.

    When the first statement of ``fn`` finds its pooled connection dead (the server
    restarted, or the backend was terminated), the pool is invalidated and ``fn`` runs
    once more, on a fresh connection. Nothing reached the database in the failed
    attempt, so running it again cannot repeat a write; a failure after a statement
    completed propagates as before.
    """
    if _unpinged.active:  # nested: the outer unit of work retries
        return fn()
    _unpinged.active = True
    _unpinged.statements = 0
    try:
        return fn()
    except exc.DBAPIError as err:
        if not err.connection_invalidated or _unpinged.statements:
            raise
    finally:
        _unpinged.active = False
    return fn()


def _sqlite_engine(url: str, database: str | None) -> Engine:
    pool: dict[str, Any] = {}
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # one kept connection per store thread: overflow connections are closed on return,
        # so a smaller pool reopened (and re-PRAGMAed) connections under concurrent reads
        pool = {"pool_size": STORE_THREADS, "max_overflow": 8}
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        use_wal(dbapi_conn)  # serve and workers opening a new database together take turns
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def write_engine(engine: Engine) -> Engine:
    """The same pool, but SQLite transactions take the write lock at BEGIN."""
    return engine.execution_options(**{_IMMEDIATE: True})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config(settings: Settings, engine: Engine | None = None) -> Any:
    from alembic.config import Config

    import mediavault.migrations as migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option(
        "sqlalchemy.url", settings.effective_database_url.replace("%", "%%")
    )
    config.attributes["engine"] = engine
    return config


_upgrade_lock = threading.Lock()


def upgrade(settings: Settings, engine: Engine | None = None) -> None:
    """Bring the database schema to the newest migration (idempotent, safe to repeat)."""
    from alembic import command

    with _upgrade_lock:
        own = engine is None
        engine = engine or make_engine(settings)
        try:
            command.upgrade(_alembic_config(settings, engine), "head")
        finally:
            if own:
                engine.dispose()


class Database:
    """The engine and session factory of one process (and its write-locking twin)."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        if migrate:
            upgrade(settings, self.engine)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.write_sessionmaker = make_sessionmaker(write_engine(self.engine))

    def dispose(self) -> None:
        self.engine.dispose()
