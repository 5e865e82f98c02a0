"""The Telegram bot end to end: python-telegram-bot against the local Bot API emulation,
the real mediavault service (API + embedded worker) behind it, media from the local origin
and the emulated TikTok profile."""

from __future__ import annotations

import hashlib
import itertools
import logging
from pathlib import Path

import httpx
import pytest

from mediavault.bots.telegram import BotOptions, is_profile_url
from tests.bots.botapi import TOKEN, BotApi
from tests.bots.conftest import FAST, Vault, until
from tests.emulators.tiktok import TikTokEmulator
from tests.support.origin import Origin

pytestmark = pytest.mark.timeout(120)

CHAT = 4242


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _status_edits(botapi: BotApi, chat: int, message_id: int) -> list:
    return [c for c in botapi.calls_of("editMessageText", chat)
            if int(c.params["message_id"]) == message_id]


async def test_link_gets_progress_edits_then_the_video(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin, media_root: Path, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    origin.throttle["/video.mp4"] = 120_000  # ~2 s: several progress polls
    botapi.fail_next["sendVideo"] = (429, "Too Many Requests: retry after 1", 1)
    start_bot(vault)
    botapi.send_text(CHAT, f"please grab {origin.url('/video.mp4')} thanks")

    videos = await until(lambda: botapi.calls_of("sendVideo", CHAT), 60, "the video", botapi)
    status = botapi.calls_of("sendMessage", CHAT)[0]
    assert status.params["text"].startswith("⏳ Queuing http://127.0.0.1")
    status_id = status.result["message_id"]
    final = await until(lambda: "✅" in botapi.messages[(CHAT, status_id)]["text"]
                        and botapi.messages[(CHAT, status_id)]["text"], 10, "final status", botapi)
    assert "Download completed" in final and "video" in final

    # one status message, edited through the job's life, throttled and never redundant
    edits = _status_edits(botapi, CHAT, status_id)
    texts = [e.params["text"] for e in edits]
    assert any("%" in t and "of" in t for t in texts), texts  # live byte progress
    assert not [c for c in botapi.calls if c.method == "editMessageText" and not c.ok]
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(edits[1:-1])]
    assert all(gap >= FAST.edit_interval - 0.05 for gap in gaps), gaps

    # the file itself, byte for byte, as a streamable video, after one flood-control wait
    [video] = videos
    upload = video.files["video"]
    [job] = vault.jobs()
    assert _sha(upload.data) == _sha(vault.file(job["id"]))  # the stored file, byte for byte
    assert abs(len(upload.data) - (media_root / "video.mp4").stat().st_size) < 4096
    assert upload.filename.endswith(".mp4") and video.params["supports_streaming"] == "true"
    assert [c.ok for c in botapi.calls if c.method == "sendVideo"] == [False, True]

    # neither the bot token nor the API key reaches a log line
    assert caplog.records
    assert TOKEN not in caplog.text and vault.key not in caplog.text
    assert "***" in caplog.text  # Bot API URLs were logged, redacted


async def test_api_errors_are_one_clear_line(botapi: BotApi, vault: Vault, start_bot) -> None:
    start_bot(vault, bot_allowed_chats=[CHAT])
    botapi.send_text(CHAT, "http://10.1.2.3/secret.mp4")
    botapi.send_text(CHAT, "/status 0123456789abcdef0123456789abcdef")
    botapi.send_text(CHAT, "/cancel ../../etc")
    texts = await until(lambda: len([t for t in botapi.texts(CHAT) if "⚠️" in t]) >= 3
                        and botapi.texts(CHAT), 20, "three errors", botapi)
    errors = [t for t in texts if t.startswith("⚠️")]
    assert errors[0].startswith("⚠️ [url_blocked] ") and "\n" not in errors[0]
    assert errors[1].startswith("⚠️ [not_found] ")
    assert errors[2].startswith("⚠️ [invalid_input] not a job id")
    assert vault.jobs() == []


async def test_private_bot_answers_only_its_chats(botapi: BotApi, vault: Vault, start_bot,
                                                  origin: Origin) -> None:
    start_bot(vault, bot_allowed_chats=[CHAT])
    botapi.send_text(777, origin.url("/video.mp4"))
    botapi.send_text(CHAT, "/help")
    await until(lambda: botapi.calls_of("sendMessage", CHAT), 20, "help", botapi)
    [refusal] = await until(lambda: botapi.calls_of("sendMessage", 777), 5, "refusal", botapi)
    assert refusal.params["text"].startswith("⛔ This bot is private")
    assert "/profile URL" in botapi.calls_of("sendMessage", CHAT)[0].params["text"]
    assert vault.jobs() == []


async def test_oversized_file_is_a_link_not_an_upload(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin
) -> None:
    botapi.max_upload = 100_000  # the emulated Bot API refuses bigger uploads (413)
    start_bot(vault, options=BotOptions(poll_interval=0.2, edit_interval=0.5,
                                        long_poll_timeout=1.0, upload_limit=100_000),
              bot_public_url="https://vault.example.org")
    botapi.send_text(CHAT, origin.url("/video.mp4"))
    note = await until(lambda: [t for t in botapi.texts(CHAT) if t.startswith("📎")], 60,
                       "the large-file note", botapi)
    [job] = vault.jobs()
    assert f"https://vault.example.org/api/v1/download/{job['id']}/file" in note[0]
    size_kb = len(vault.file(job["id"])) / 1024
    assert f"video is {size_kb:.1f} KB, over Telegram's 97.7 KB bot upload limit" in note[0]
    assert not [c for c in botapi.calls if c.method.startswith("send") and c.files]


async def test_cancel_stops_the_job_and_other_chats_cannot_touch_it(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin
) -> None:
    origin.throttle["/video.mp4"] = 10_000  # ~26 s: plenty of time to cancel
    start_bot(vault)  # open bot: each chat sees only its own jobs
    botapi.send_text(CHAT, origin.url("/video.mp4"))
    await until(lambda: any("running" in t for t in botapi.texts(CHAT)), 30, "running", botapi)
    [job] = vault.jobs()
    botapi.send_text(999, f"/cancel {job['id']}")
    botapi.send_text(999, f"/status {job['id']}")
    await until(lambda: len(botapi.calls_of("sendMessage", 999)) >= 2, 10, "refusals", botapi)
    assert all(t.startswith("⚠️ [not_found] ") for t in botapi.texts(999))
    botapi.send_text(CHAT, f"/cancel {job['id']}")
    await until(lambda: any(t == f"🛑 Cancelling job {job['id']}." for t in botapi.texts(CHAT)),
                10, "cancel reply", botapi)
    await until(lambda: any(t.startswith("🚫 Download cancelled") for t in botapi.texts(CHAT)),
                30, "cancelled status", botapi)
    assert vault.jobs()[0]["status"] == "cancelled"
    botapi.send_text(CHAT, f"/status {job['id']}")
    await until(lambda: botapi.texts(CHAT)[-1].startswith("🚫"), 10, "status reply", botapi)
    assert not botapi.calls_of("sendVideo")


async def test_restarted_bot_resumes_watching_and_delivers(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin
) -> None:
    origin.throttle["/video.mp4"] = 40_000  # ~7 s
    first = start_bot(vault)
    botapi.send_text(CHAT, origin.url("/video.mp4"))
    await until(lambda: any("%" in t for t in botapi.texts(CHAT)), 30, "progress", botapi)
    await first.stop()  # the bot goes down mid-download; the job runs on in the service
    status_id = botapi.calls_of("sendMessage", CHAT)[0].result["message_id"]
    sent_before = len(botapi.calls_of("sendMessage", CHAT))
    start_bot(vault)
    await until(lambda: botapi.calls_of("sendVideo", CHAT), 60, "the video", botapi)
    assert botapi.messages[(CHAT, status_id)]["text"].startswith("✅ Download completed")
    assert len(botapi.calls_of("sendMessage", CHAT)) == sent_before  # no new status message
    [job] = vault.jobs()
    botapi.send_text(CHAT, f"/status {job['id']}")  # the chat still owns its job
    await until(lambda: botapi.texts(CHAT)[-1].startswith("✅ Download completed"), 10,
                "status reply", botapi)
    assert len(botapi.calls_of("sendVideo")) == 1


async def test_audio_command_sends_an_audio_file(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin
) -> None:
    start_bot(vault)
    botapi.send_text(CHAT, f"/audio {origin.url('/video.mp4')}")
    [audio] = await until(lambda: botapi.calls_of("sendAudio", CHAT), 60, "the audio", botapi)
    [job] = vault.jobs()
    assert job["options"]["audio_only"] is True
    assert audio.files["audio"].filename.endswith(".m4a")
    assert _sha(audio.files["audio"].data) == _sha(vault.file(job["id"]))


@pytest.fixture
def tiktok(media_root: Path):
    with TikTokEmulator(media_root, username="alice", videos=7, page=4) as emu:
        yield emu


async def test_profile_link_scrapes_and_sends_batches_of_five(
    botapi: BotApi, start_vault, start_bot, tiktok: TikTokEmulator
) -> None:
    vault = start_vault(tiktok_api_base=tiktok.base_url, tiktok_web_base=tiktok.base_url)
    start_bot(vault)
    botapi.send_text(CHAT, "https://www.tiktok.com/@alice")
    groups = await until(lambda: len(botapi.calls_of("sendMediaGroup", CHAT)) >= 2
                         and botapi.calls_of("sendMediaGroup", CHAT), 90, "two albums", botapi)
    first, second = (g.json("media") for g in groups)
    assert [m["type"] for m in first] == ["video"] * 5 and [m["type"] for m in second] == ["video"] * 2
    uploads = [u for g in groups for u in g.files.values()]
    assert len(uploads) == 7 and len({_sha(u.data) for u in uploads}) == 7
    assert {m["caption"] for m in first + second} == {f"Video number {i} #fun" for i in range(1, 8)}
    final = await until(lambda: [t for t in botapi.texts(CHAT) if t.startswith("✅ Profile")],
                        20, "final status", botapi)
    assert "7 of 7 done" in final[0] and "📤 7 sent" in final[0]


def test_profile_urls_are_told_apart_from_media_links() -> None:
    assert is_profile_url("https://www.tiktok.com/@alice")
    assert is_profile_url("https://onlyfans.com/alice")
    assert not is_profile_url("https://www.youtube.com/watch?v=abc")
    assert not is_profile_url("http://127.0.0.1:8000/video.mp4")


async def test_a_feed_link_sends_every_stored_file(
    botapi: BotApi, vault: Vault, start_bot, origin: Origin
) -> None:
    """A multi-item URL sent as a plain link is one download job with several files."""
    start_bot(vault)
    botapi.send_text(CHAT, origin.url("/feed.rss"))
    final = await until(lambda: [t for t in botapi.texts(CHAT) if t.startswith("✅")], 90,
                        "final status", botapi)
    [job] = vault.jobs()
    assert len(job["file_urls"]) == 12, final
    albums = await until(lambda: len(botapi.calls_of("sendMediaGroup", CHAT)) >= 3
                         and botapi.calls_of("sendMediaGroup", CHAT), 30, "three albums", botapi)
    uploads = [u for g in albums for u in g.files.values()]
    assert len(uploads) == 12 and len({_sha(u.data) for u in uploads}) == 12
    stored = {_sha(httpx.get(f"{vault.url}{url}", headers={"X-API-Key": vault.key}).content)
              for url in job["file_urls"]}
    assert stored == {_sha(u.data) for u in uploads}
