"""``mediavault bot``: the real command in a child process against the Bot API emulation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bots.botapi import TOKEN, BotApi

pytestmark = pytest.mark.timeout(60)

MEDIAVAULT = str(Path(sys.executable).parent / "mediavault")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
    env.update({"MEDIAVAULT_DATA_DIR": str(tmp_path / "data"),
                "MEDIAVAULT_ALLOWED_HOSTS": "127.0.0.1,localhost,::1", **extra})
    return env


def test_bot_command_serves_chats_until_sigterm_without_logging_secrets(
    botapi: BotApi, tmp_path: Path
) -> None:
    env = _env(tmp_path, MEDIAVAULT_TELEGRAM_BOT_TOKEN=TOKEN,
               MEDIAVAULT_TELEGRAM_API_BASE=botapi.base_url,
               MEDIAVAULT_BOT_API_KEY="mv_secret_api_key_value", MEDIAVAULT_LOG_LEVEL="DEBUG")
    proc = subprocess.Popen([MEDIAVAULT, "bot"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        botapi.wait_for(lambda api: api.calls_of("getUpdates"), timeout=30)
        [menu] = botapi.calls_of("setMyCommands")
        assert [c["command"] for c in menu.json("commands")] == [
            "profile", "playlist", "audio", "status", "cancel", "jobs", "help"]
        botapi.send_text(7, "/start")
        [reply] = botapi.wait_for(lambda api: api.calls_of("sendMessage", 7), timeout=20)
        assert reply.params["text"].startswith("Send me a link")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "telegram bot @vault_test_bot is polling" in err
    assert TOKEN not in out + err and "mv_secret_api_key_value" not in out + err


def test_bot_command_without_a_token_is_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run([MEDIAVAULT, "bot"], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: set MEDIAVAULT_TELEGRAM_BOT_TOKEN to run the Telegram bot"


def test_bot_command_with_a_refused_token_is_one_line_error(botapi: BotApi, tmp_path: Path) -> None:
    env = _env(tmp_path, MEDIAVAULT_TELEGRAM_BOT_TOKEN="999:wrong-token-value",
               MEDIAVAULT_TELEGRAM_API_BASE=botapi.base_url)
    proc = subprocess.run([MEDIAVAULT, "bot"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: [config_invalid] the Telegram Bot API refused the bot token "
        "(MEDIAVAULT_TELEGRAM_BOT_TOKEN)")
    assert "wrong-token-value" not in proc.stderr + proc.stdout
