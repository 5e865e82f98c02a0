"""The dashboard in headless Chromium (Playwright, the system ``chromium``) against a real
``mediavault serve``: submit, live progress to completion, the file download, cancel,
and catching up after the service restarts while the page stays open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.origin import Origin

CHROMIUM = os.environ.get("MEDIAVAULT_CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
MEDIAVAULT = [str(Path(sys.executable).parent / "mediavault")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """``mediavault serve`` (or ``worker``) processes on one data dir and one port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")},
            "MEDIAVAULT_DATA_DIR": str(data_dir),
            "MEDIAVAULT_ALLOW_PRIVATE_NETWORKS": "true",
            "MEDIAVAULT_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
            "MEDIAVAULT_LOG_LEVEL": "WARNING",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.data_dir.parent / f"proc-{len(self.procs)}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen([*MEDIAVAULT, *args], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def serve(self) -> subprocess.Popen[bytes]:
        proc = self._start("serve", "--port", str(self.port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("serve exited early:\n" + self.logs[-1].read_text()[-3000:])
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code < 500:
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not come up")

    def worker(self) -> subprocess.Popen[bytes]:
        return self._start("worker", "--concurrency", "2")

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def close(self) -> None:
        for proc in self.procs:
            self.stop(proc)

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.base}/api/v1/download/{job_id}", timeout=5)
        response.raise_for_status()
        return dict(response.json())


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path / "data")
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(accept_downloads=True)
        tab = await context.new_page()
        tab.set_default_timeout(30_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab
        await browser.close()
        assert not errors, f"script errors on the page: {errors}"


async def _live(page: Any) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#live")).to_have_text("live", timeout=30_000)


async def _submit(page: Any, url: str) -> str:
    from playwright.async_api import expect

    status = page.locator("#submit-status")
    before = await status.text_content() or ""
    await page.fill("#url", url)
    await page.click("#submit-form button[type=submit]")
    await expect(status).not_to_have_text(before, timeout=10_000)  # this submission's answer
    text = await status.text_content() or ""
    assert text.startswith("queued "), text
    return text.split()[-1]


async def test_submit_follow_live_download_the_file_and_cancel(
    service: Service, page: Any, origin: Origin,
) -> None:
    from playwright.async_api import expect

    service.serve()
    await page.goto(service.base + "/")
    await _live(page)

    job_id = await _submit(page, origin.url("/video.mp4"))
    row = page.locator(f"#job-{job_id}")
    await expect(row.locator(".status")).to_have_text("completed", timeout=60_000)
    assert await row.locator("progress").get_attribute("value") not in (None, "0")
    stored = httpx.get(f"{service.base}/api/v1/download/{job_id}/file", timeout=10)
    assert stored.status_code == 200 and len(stored.content) > 10_000
    async with page.expect_download() as caught:
        await row.locator("a", has_text="File").click()
    download = await caught.value
    saved = Path(await download.path())
    assert saved.read_bytes() == stored.content
    assert download.suggested_filename.endswith(".mp4")

    origin.throttle["/feed/clip01.mp4"] = 300  # a minute or more, over any number of connections
    slow = await _submit(page, origin.url("/feed/clip01.mp4"))
    slow_row = page.locator(f"#job-{slow}")
    await expect(slow_row.locator(".status")).to_have_text("running", timeout=30_000)
    await slow_row.locator("button", has_text="Cancel").click()
    await expect(slow_row.locator(".status")).to_have_text("cancelled", timeout=15_000)
    assert service.job(slow)["status"] == "cancelled"


async def test_the_page_catches_up_after_the_service_restarts(
    service: Service, page: Any, origin: Origin,
) -> None:
    """Events sent while the page was disconnected are gone: a reconnect reads the list."""
    from playwright.async_api import expect

    serve = service.serve()
    await page.goto(service.base + "/")
    await _live(page)
    origin.throttle["/feed/clip02.mp4"] = 300
    job_id = await _submit(page, origin.url("/feed/clip02.mp4"))
    row = page.locator(f"#job-{job_id}")
    await expect(row.locator(".status")).to_have_text("running", timeout=30_000)

    service.stop(serve)  # the running job goes back to the queue
    await expect(page.locator("#live")).to_have_text("offline", timeout=15_000)
    origin.throttle.clear()
    worker = service.worker()  # finishes the job while no API is up to tell the page
    deadline = time.monotonic() + 60
    while not _finished(service.data_dir, job_id):
        assert time.monotonic() < deadline, "the worker did not finish the job"
        assert worker.poll() is None, service.logs[-1].read_text()[-3000:]
        time.sleep(0.2)
    service.stop(worker)
    assert await row.locator(".status").text_content() in ("running", "queued")

    service.serve()
    await _live(page)
    await expect(row.locator(".status")).to_have_text("completed", timeout=15_000)


def _finished(data_dir: Path, job_id: str) -> bool:
    import sqlite3

    db = data_dir / "mediavault.db"  # the embedded default database
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row is not None and row[0] == "completed"
