"""What the bot says, from the API's job JSON (pure functions, no network)."""

from __future__ import annotations

from typing import Any

from mediavault.bots._api import ServiceError
from mediavault.bots._format import (
    error_line,
    extract_urls,
    human_size,
    job_status_text,
    media_kind,
)
from mediavault.errors import BlockedURLError


def _job(**fields: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"id": "abc", "kind": "download", "status": "running", "stage": None,
                           "url": "https://example.com/v/1", "title": "Clip",
                           "items_total": None, "items_done": 0, "items_failed": 0,
                           "items_skipped": 0, "error": None,
                           "progress": {"downloaded_bytes": 0, "total_bytes": None, "speed": None,
                                        "eta": None, "percent": None}}
    job.update(fields)
    return job


def test_running_download_shows_bar_bytes_speed_eta_and_how_to_cancel() -> None:
    text = job_status_text(_job(stage="downloading", progress={
        "downloaded_bytes": 3 * 1024 * 1024, "total_bytes": 6 * 1024 * 1024,
        "speed": 1.5 * 1024 * 1024, "eta": 125, "percent": 50.0}))
    assert text.splitlines() == [
        "⬇️ Download running (downloading)",
        "Clip",
        "██████░░░░░░ 50% · 3.0 MB of 6.0 MB · 1.5 MB/s · ETA 2m05s",
        "id abc · /cancel abc",
    ]


def test_queued_job_without_title_shows_its_url_and_no_progress() -> None:
    assert job_status_text(_job(status="queued", title=None)).splitlines() == [
        "⏳ Download queued", "https://example.com/v/1", "id abc · /cancel abc"]


def test_profile_job_counts_items_and_failed_job_shows_its_error() -> None:
    text = job_status_text(_job(kind="profile_scrape", stage="downloading", items_total=25,
                                items_done=7, items_failed=1, items_skipped=2))
    assert text.splitlines()[0] == "⬇️ Profile running (downloading)"
    assert "7 of 25 done · 1 failed · 2 skipped" in text
    failed = job_status_text(_job(status="failed", error={"code": "http_error",
                                                          "message": "HTTP 404 from origin"}))
    assert failed.splitlines() == ["❌ Download failed", "Clip", "[http_error] HTTP 404 from origin",
                                   "id abc"]


def test_error_lines_are_single_lines_with_the_service_code() -> None:
    remote = ServiceError("URL resolves to a private address\nsecond line", remote_code="url_blocked",
                          status=422)
    assert error_line(remote) == "⚠️ [url_blocked] URL resolves to a private address second line"
    assert error_line(BlockedURLError("nope")) == "⚠️ [url_blocked] nope"
    assert error_line(RuntimeError("token 123:abc leaked?")) == (
        "⚠️ [internal_error] something went wrong on the bot's side")


def test_urls_are_found_in_order_without_trailing_punctuation_or_repeats() -> None:
    text = "see https://a.example/x?y=1, and (http://b.example/z). again https://a.example/x?y=1"
    assert extract_urls(text, ["https://c.example/link", "not a url"]) == [
        "https://a.example/x?y=1", "http://b.example/z", "https://c.example/link"]
    assert extract_urls("no links here") == []


def test_media_kind_uses_players_telegram_supports() -> None:
    assert media_kind("a.mp4", "video/mp4", 10) == "video"
    assert media_kind("a.webm", "video/webm", 10) == "document"
    assert media_kind("a.m4a", "audio/mp4", 10) == "audio"
    assert media_kind("a.mp3", "application/octet-stream", 10) == "audio"
    assert media_kind("a.opus", "audio/ogg", 10) == "document"
    assert media_kind("a.jpg", "image/jpeg", 1000) == "photo"
    assert media_kind("a.jpg", "image/jpeg", 11 * 1024 * 1024) == "document"
    assert media_kind("notes", "", None) == "document"


def test_human_size() -> None:
    assert [human_size(v) for v in (None, 0, 1023, 1024, 5 * 1024**3, 3 * 1024**4)] == [
        "?", "0 B", "1023 B", "1.0 KB", "5.0 GB", "3072.0 GB"]
