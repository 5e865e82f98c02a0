from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from mediavault.errors import PathNotWritableError
from mediavault.jobs.tables import ArchiveEntry, Base, MediaFile, User
from mediavault.storage import DedupeIndex, FileArchive, SqlDedupeIndex, sha256_file
from mediavault.storage.dedupe import ARCHIVE_RELPATH

HASH_A = hashlib.sha256(b"a").hexdigest()
HASH_B = hashlib.sha256(b"b").hexdigest()
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert await sha256_file(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


async def _exercise(index: DedupeIndex) -> None:
    assert isinstance(index, DedupeIndex)
    assert await index.find_item("youtube", "v1") is None
    assert await index.find_hash(HASH_A) is None
    await index.record("youtube", "v1", HASH_A, "u/a.mp4", 10, {"title": "A", "duration": 3})
    assert await index.find_item("youtube", "v1") == "u/a.mp4"
    assert await index.find_item("vimeo", "v1") is None  # ids are per platform
    assert await index.find_hash(HASH_A.upper()) == "u/a.mp4"
    # another item with the same bytes points at the first file
    await index.record("vimeo", "9", HASH_A, "u/a.mp4", 10, {})
    assert await index.find_item("vimeo", "9") == "u/a.mp4"
    # re-recording an item moves it
    await index.record("youtube", "v1", HASH_B, "u/b.mp4", 11, {"title": "B"})
    assert await index.find_item("youtube", "v1") == "u/b.mp4"
    assert await index.find_hash(HASH_B) == "u/b.mp4"


async def test_file_archive(tmp_path: Path) -> None:
    archive = FileArchive.for_output_dir(tmp_path / "out")
    assert archive.path == tmp_path / "out" / ARCHIVE_RELPATH
    await _exercise(archive)
    other = FileArchive(archive.path)  # a second process/CLI run sees the same data
    assert await other.find_item("youtube", "v1") == "u/b.mp4"
    assert await other.count() == 2
    assert await other.forget_key("u/a.mp4") == 1
    assert await archive.find_item("vimeo", "9") is None


async def test_file_archive_unwritable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    archive = FileArchive(tmp_path / "file" / "archive.sqlite3")
    with pytest.raises(PathNotWritableError):
        await archive.find_item("a", "b")


def _users(maker: sessionmaker[Session], *names: str) -> list[str]:
    with maker() as db, db.begin():
        users = [User(name=name) for name in names]
        db.add_all(users)
        db.flush()
        return [u.id for u in users]


async def _exercise_sql(maker: sessionmaker[Session]) -> None:
    alice, bob = _users(maker, "alice", "bob")
    await _exercise(SqlDedupeIndex(maker, alice))
    bobs = SqlDedupeIndex(maker, bob)
    assert await bobs.find_item("youtube", "v1") is None  # scoped per user
    assert await bobs.find_hash(HASH_A) is None
    await bobs.record("youtube", "v1", HASH_A, "bob/a.mp4", 10, {"job_id": None, "k": "v"})
    assert await bobs.find_item("youtube", "v1") == "bob/a.mp4"
    shared = SqlDedupeIndex(maker, None)
    await shared.record("youtube", "v1", HASH_B, "shared/b.mp4", 11, {})
    assert await shared.find_item("youtube", "v1") == "shared/b.mp4"
    assert await shared.find_hash(HASH_B) == "shared/b.mp4"
    with maker() as db:
        row = db.scalar(select(MediaFile).where(MediaFile.path == "u/a.mp4"))
        assert row is not None and row.title == "A" and row.duration == 3.0
        assert db.scalar(select(MediaFile.meta).where(MediaFile.path == "bob/a.mp4")) == {"k": "v"}
        assert len(db.scalars(select(ArchiveEntry)).all()) == 4


async def test_sql_index_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    Base.metadata.create_all(engine)
    try:
        await _exercise_sql(sessionmaker(engine))
    finally:
        engine.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = f"mv_net_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_sql_index_on_postgresql(pg_database: str) -> None:
    engine = create_engine(pg_database)
    Base.metadata.create_all(engine)
    try:
        await _exercise_sql(sessionmaker(engine))
    finally:
        engine.dispose()


async def test_archives_opened_together_on_a_new_file_do_not_collide(tmp_path: Path) -> None:
    """Two downloads into one fresh output dir open its archive at once (the WAL switch
    takes an exclusive lock without waiting): neither may fail with "database is locked"."""
    for round_ in range(60):
        path = tmp_path / f"r{round_}" / "archive.sqlite3"
        archives = [FileArchive(path) for _ in range(6)]
        found = await asyncio.gather(*(a.find_item("generic", "x") for a in archives))
        assert found == [None] * 6
    await archives[0].record("generic", "x", HASH_A, "k.mp4", 1, {})
    assert await archives[5].find_item("generic", "x") == "k.mp4"
