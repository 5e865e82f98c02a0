"""download_item end to end against the origin: store, template, dedupe, skips, errors."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mediavault import errors
from mediavault.config import Settings
from mediavault.models import DownloadOptions, ItemStatus, MediaItem, Progress
from mediavault.net.session import HttpSession
from mediavault.pipeline import PipelineContext, archive_id, download_item
from mediavault.platforms.base import AdapterContext
from mediavault.platforms.ytdlp import YtdlpAdapter
from mediavault.storage.dedupe import FileArchive
from mediavault.storage.local import LocalStorage
from tests.support.origin import Origin

MakeCtx = Callable[..., PipelineContext]


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[HttpSession]:
    async with HttpSession(settings) as s:
        yield s


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def make_ctx(settings: Settings, session: HttpSession, out: Path) -> MakeCtx:
    storage = LocalStorage(out)

    def factory(**kw: object) -> PipelineContext:
        values: dict[str, object] = {
            "settings": settings,
            "session": session,
            "storage": storage,
            "work_dir": out / ".mediavault" / "work",
            "dedupe": FileArchive.for_output_dir(out),
        }
        values.update(kw)
        return PipelineContext(**values)  # type: ignore[arg-type]

    return factory


async def extract(session: HttpSession, settings: Settings, url: str) -> MediaItem:
    result = await YtdlpAdapter(url, AdapterContext(settings=settings, session=session)).extract()
    assert isinstance(result, MediaItem)
    return result


def visible_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".mediavault" not in p.parts
    )


async def test_direct_file_stored_by_template(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path
) -> None:
    item = await extract(session, settings, origin.url("/video.mp4"))
    events: list[Progress] = []
    options = DownloadOptions(template="{platform}/{title} [{id}].{ext}", embed_metadata=False)
    result = await download_item(item, options, ctx=make_ctx(on_progress=events.append))
    assert result.status is ItemStatus.COMPLETED
    assert result.path == "generic/video [video].mp4"
    stored = out / result.path
    assert (
        stored.read_bytes() == (origin.root / "video.mp4").read_bytes()
    )  # no metadata: same bytes
    assert result.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert result.size == stored.stat().st_size
    assert {e.status for e in events} >= {"downloading", "postprocessing", "finished"}
    assert events[-1].status == "finished" and events[-1].downloaded_bytes == result.size
    assert not (out / ".mediavault" / "work").exists()  # work files cleaned up


async def test_a_bare_file_is_stored_byte_identical_by_default(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path
) -> None:
    item = await extract(session, settings, origin.url("/video.mp4"))
    result = await download_item(item, DownloadOptions(), ctx=make_ctx())  # embed_metadata on
    assert result.status is ItemStatus.COMPLETED and result.path is not None
    # nothing to embed beyond its own name: the archive keeps the bytes the server sent
    assert (out / result.path).read_bytes() == (origin.root / "video.mp4").read_bytes()


async def test_same_item_again_is_a_duplicate(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path
) -> None:
    item = await extract(session, settings, origin.url("/video.mp4"))
    first = await download_item(item, DownloadOptions(), ctx=make_ctx())
    origin.reset_stats()
    second = await download_item(item, DownloadOptions(), ctx=make_ctx())
    assert second.status is ItemStatus.COMPLETED
    assert second.duplicate_of == first.path == second.path
    assert origin.requests["/video.mp4"] == 0  # nothing fetched again
    assert visible_files(out) == [first.path]


async def test_same_content_from_another_url_is_not_stored_twice(
    session: HttpSession,
    settings: Settings,
    make_ctx: MakeCtx,
    origin: Origin,
    out: Path,
    tmp_path: Path,
) -> None:
    mirror_root = tmp_path / "mirror"
    mirror_root.mkdir()
    shutil.copy2(origin.root / "video.mp4", mirror_root / "video.mp4")
    options = DownloadOptions(embed_metadata=False)
    first = await download_item(
        await extract(session, settings, origin.url("/video.mp4")), options, ctx=make_ctx()
    )
    with Origin(mirror_root) as mirror:
        other = await extract(session, settings, mirror.url("/video.mp4"))
        assert archive_id(other) != archive_id(
            await extract(session, settings, origin.url("/video.mp4"))
        )
        second = await download_item(other, options, ctx=make_ctx())
    assert second.duplicate_of == first.path
    assert second.sha256 == first.sha256
    assert visible_files(out) == [first.path]


async def test_drm_item_is_skipped_without_fetching(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path
) -> None:
    item = await extract(session, settings, origin.url("/drm/manifest.mpd"))
    origin.reset_stats()
    result = await download_item(item, DownloadOptions(), ctx=make_ctx())
    assert result.status is ItemStatus.SKIPPED and result.reason == "drm_protected"
    assert not any(path.endswith(".m4s") for path in origin.requests)
    assert not out.exists() or visible_files(out) == []


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (DownloadOptions(template="{nope}.{ext}"), errors.InvalidTemplateError),
        (DownloadOptions(format="bv*[height<="), errors.InputError),
        (DownloadOptions(format="best[ext=webm]"), errors.FormatNotAvailableError),
    ],
)
async def test_bad_options_fail_before_any_download(
    session: HttpSession,
    settings: Settings,
    make_ctx: MakeCtx,
    origin: Origin,
    out: Path,
    options: DownloadOptions,
    error: type[Exception],
) -> None:
    item = await extract(session, settings, origin.url("/video.mp4"))
    origin.reset_stats()
    with pytest.raises(error):
        await download_item(item, options, ctx=make_ctx())
    assert origin.requests["/video.mp4"] == 0
    assert not out.exists()


async def test_unwritable_output(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    item = await extract(session, settings, origin.url("/video.mp4"))
    storage = LocalStorage(blocker / "out")
    ctx = make_ctx(storage=storage, work_dir=blocker / "out" / "work", dedupe=None)
    with pytest.raises(errors.PathNotWritableError):
        await download_item(item, DownloadOptions(), ctx=ctx)


async def test_non_media_download_is_refused_and_cleaned(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path
) -> None:
    item = await extract(
        session, settings, origin.url("/notes.txt")
    )  # yt-dlp guesses "direct link"
    with pytest.raises(errors.NoMediaError):
        await download_item(item, DownloadOptions(), ctx=make_ctx())
    assert visible_files(out) == []
    assert not (out / ".mediavault" / "work").exists()


async def test_the_engines_digest_is_recorded_without_a_second_pass(
    session: HttpSession, settings: Settings, make_ctx: MakeCtx, origin: Origin, out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A segmented download hashes while it fetches; the pipeline does not read it again."""
    item = await extract(session, settings, origin.url("/video.mp4"))

    async def no_second_pass(path: Path) -> str:
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr("mediavault.pipeline.sha256_file", no_second_pass)
    result = await download_item(item, DownloadOptions(embed_metadata=False), ctx=make_ctx())
    assert result.status is ItemStatus.COMPLETED and result.path is not None
    assert result.sha256 == hashlib.sha256((out / result.path).read_bytes()).hexdigest()
