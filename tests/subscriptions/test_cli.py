"""``mediavault subscriptions ...`` and ``mediavault credentials set`` against a real DB."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from mediavault.cli import _load_commands, app
from mediavault.config import Settings
from mediavault.jobs.db import Database
from mediavault.jobs.tables import Credential


def _env(tmp_path) -> dict[str, str]:
    return {"MEDIAVAULT_DATA_DIR": str(tmp_path / "data"), "MEDIAVAULT_ALLOW_PRIVATE_NETWORKS": "true"}


def test_add_list_remove_and_credentials(tmp_path) -> None:
    _load_commands()
    runner = CliRunner()
    env = _env(tmp_path)
    added = runner.invoke(
        app, ["subscriptions", "add", "https://fansly.com/alice", "--mode", "new", "--interval", "6h",
              "--title-regex", "^Post"], env=env,
    )
    assert added.exit_code == 0, added.output
    sub_id = added.stdout.strip().splitlines()[-1]
    listed = runner.invoke(app, ["subscriptions", "list", "--json"], env=env)
    record = json.loads(listed.stdout.strip())
    assert record["id"] == sub_id and record["platform"] == "fansly" and record["interval_seconds"] == 21600
    bad = runner.invoke(app, ["subscriptions", "add", "https://fansly.com/x", "--interval", "soon"], env=env)
    assert bad.exit_code != 0 and "error:" in bad.output
    stored = runner.invoke(
        app, ["credentials", "set", "OnlyFans", "--cookie", "auth_id=1; sess=SECRETVALUE",
              "--user-agent", "UA/1", "--token", "XBC"], env=env,
    )
    assert stored.exit_code == 0 and "SECRETVALUE" not in stored.output
    db = Database(Settings(data_dir=tmp_path / "data"))
    try:
        with db.sessionmaker() as session:
            row = session.scalar(select(Credential).where(Credential.platform == "onlyfans"))
            assert row is not None and b"SECRETVALUE" not in row.data_enc
    finally:
        db.dispose()
    assert runner.invoke(app, ["subscriptions", "remove", sub_id], env=env).exit_code == 0
    assert runner.invoke(app, ["subscriptions", "list"], env=env).stdout.strip() == ""
    missing = runner.invoke(app, ["subscriptions", "remove", sub_id], env=env)
    assert missing.exit_code == 2 and "not_found" in missing.output


def test_sync_here_downloads_new_items_only(tmp_path, origin) -> None:
    from tests.support.media import feed_xml

    _load_commands()
    count = {"n": 3}
    origin.routes["/feed.rss"] = lambda req: (200, {"Content-Type": "application/rss+xml"},
                                              feed_xml(origin.base_url, count["n"]))
    runner = CliRunner()
    env = _env(tmp_path)
    sub_id = runner.invoke(app, ["subscriptions", "add", origin.url("/feed.rss")], env=env).stdout.strip()
    first = runner.invoke(app, ["subscriptions", "sync", sub_id], env=env)
    assert first.exit_code == 0, first.output
    paths = first.stdout.strip().splitlines()
    assert len(paths) == 3 and all(p.endswith(".mp4") for p in paths)
    assert all((tmp_path / "data" / "media" / p).is_file() for p in paths)
    count["n"] = 5
    origin.reset_stats()
    second = runner.invoke(app, ["subscriptions", "sync", "--all"], env=env)
    assert second.exit_code == 0, second.output
    new = second.stdout.strip().splitlines()
    assert len(new) == 2 and "Clip 05" in new[0] + new[1]
    assert {p for p in origin.requests if p.startswith("/feed/clip")} == {"/feed/clip04.mp4", "/feed/clip05.mp4"}
    listed = json.loads(runner.invoke(app, ["subscriptions", "list", "--json"], env=env).stdout)
    assert listed["last_result"]["taken"] == 2 and listed["last_sync_at"]
