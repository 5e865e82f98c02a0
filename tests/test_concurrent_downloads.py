"""Two downloads of the same item at once: one transfer, the other waits for it and finds
the item archived. In one process (two ``Client.download`` calls) and across processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import mediavault
from mediavault.config import Settings
from mediavault.download.worklock import work_lock
from mediavault.models import DownloadOptions, ItemStatus
from tests.support.origin import Origin

REPO = Path(__file__).resolve().parents[1]
OPTIONS = DownloadOptions(embed_metadata=False, connections=2)


async def test_two_clients_same_url_one_transfer(
    settings: Settings, origin: Origin, media_root: Path, tmp_path: Path
) -> None:
    origin.throttle["/video.mp4"] = 300_000  # long enough for the two to overlap
    url = origin.url("/video.mp4")
    out = tmp_path / "out"
    async with (
        mediavault.Client(settings, output_dir=out) as first,
        mediavault.Client(settings, output_dir=out) as second,
    ):
        [a], [b] = await asyncio.wait_for(
            asyncio.gather(first.download(url, OPTIONS), second.download(url, OPTIONS)), 60
        )
    assert a.status is ItemStatus.COMPLETED and b.status is ItemStatus.COMPLETED
    stored, duplicate = (a, b) if b.duplicate_of else (b, a)
    assert duplicate.duplicate_of == stored.path and stored.duplicate_of is None
    assert (out / str(stored.path)).read_bytes() == (media_root / "video.mp4").read_bytes()
    assert [p.name for p in out.rglob("*.mp4")] == [Path(str(stored.path)).name]
    assert not (out / ".mediavault" / "work").exists() or not any(
        (out / ".mediavault" / "work").iterdir()
    )


CHILD = """
import asyncio, json, sys
import mediavault
from mediavault.config import Settings
from mediavault.models import DownloadOptions

async def main() -> None:
    settings = Settings(data_dir=sys.argv[3], allow_private_networks=True)
    async with mediavault.Client(settings, output_dir=sys.argv[2]) as mv:
        [result] = await mv.download(
            sys.argv[1], DownloadOptions(embed_metadata=False, connections=2)
        )
    print(result.model_dump_json())

asyncio.run(main())
"""


async def test_two_processes_same_url_one_transfer(
    origin: Origin, media_root: Path, tmp_path: Path
) -> None:
    origin.throttle["/video.mp4"] = 300_000
    url = origin.url("/video.mp4")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env["MEDIAVAULT_ALLOWED_HOSTS"] = "127.0.0.1,localhost,::1"
    env["PYTHONPATH"] = str(REPO)
    procs = []
    for n in range(2):
        args = (CHILD, url, str(out), str(tmp_path / f"data{n}"))
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    try:
        outputs = [await asyncio.wait_for(p.communicate(), 90) for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()
    results = [json.loads(stdout.decode().strip().splitlines()[-1]) for stdout, _ in outputs]
    duplicates = [r for r in results if r.get("duplicate_of")]
    assert len(duplicates) == 1, results
    assert [p.name for p in out.rglob("*.mp4")] == [Path(duplicates[0]["duplicate_of"]).name]
    assert (out / duplicates[0]["duplicate_of"]).read_bytes() == (
        media_root / "video.mp4"
    ).read_bytes()


async def test_work_lock_waits_and_can_be_cancelled(tmp_path: Path) -> None:
    work = tmp_path / "work" / "generic-x"
    order: list[str] = []
    async with work_lock(work):
        waiter_cancel = asyncio.Event()

        async def waiter() -> None:
            async with work_lock(work, cancel=waiter_cancel):
                order.append("second")

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.3)
        assert not task.done()
        order.append("first")
    await asyncio.wait_for(task, 5)
    assert order == ["first", "second"]
    assert not any((tmp_path / "work").iterdir())  # the lock file is gone with the lock

    cancel = asyncio.Event()
    async with work_lock(work):
        task = asyncio.create_task(_hold(work, cancel))
        await asyncio.sleep(0.2)
        cancel.set()
        try:
            await asyncio.wait_for(task, 5)
        except mediavault.errors.CancelledError_:
            pass
        else:
            raise AssertionError("a cancelled wait must raise CancelledError_")


async def _hold(work: Path, cancel: asyncio.Event) -> None:
    async with work_lock(work, cancel=cancel):
        raise AssertionError("got a lock that is held elsewhere")
