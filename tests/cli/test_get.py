"""``mediavault get/info/formats`` as a user runs them, against the local origin.

Done-when (issue 2): a direct MP4, an HLS master (chosen quality), a DASH pair (merged),
an og:video page and a 12-entry feed are downloaded, and each output plays with the
right duration and streams.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import mediavault.cli.get  # noqa: F401 - registers the commands
from mediavault.cli import app
from mediavault.cli._display import ProgressDisplay
from mediavault.models import Progress
from tests.support.origin import Origin, OriginRequest

runner = CliRunner()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDIAVAULT_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("MEDIAVAULT_DATA_DIR", str(tmp_path / "data"))


def run(*args: str) -> tuple[int, list[str], str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout.splitlines(), result.stderr


def ffprobe(path: str | Path) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def streams(info: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(
        s["codec_type"] for s in info["streams"] if not s.get("disposition", {}).get("attached_pic")
    )


def visible(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".mediavault" not in p.parts]


@pytest.mark.parametrize(
    ("path", "args", "height"),
    [
        ("/video.mp4", [], 180),
        ("/hls/master.m3u8", ["-f", "360p"], 360),
        ("/dash/manifest.mpd", [], 180),
        ("/page.html", [], 180),
    ],
    ids=["mp4", "hls-360p", "dash-merged", "og-video"],
)
def test_get_plays(origin: Origin, tmp_path: Path, path: str, args: list[str], height: int) -> None:
    out = tmp_path / "out"
    code, lines, err = run("get", origin.url(path), "-o", str(out), *args)
    assert code == 0, err
    assert len(lines) == 1 and Path(lines[0]).is_file() and Path(lines[0]).is_relative_to(out)
    info = ffprobe(lines[0])
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.3)
    assert streams(info) == ["audio", "video"]
    assert [s["height"] for s in info["streams"] if s["codec_type"] == "video"] == [height]
    assert visible(out) == [Path(lines[0])]


def test_get_feed_of_twelve(origin: Origin, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, lines, err = run(
        "get",
        origin.url("/feed.rss"),
        "-o",
        str(out),
        "--template",
        "{playlist_index:02d} {id}.{ext}",
    )
    assert code == 0, err
    assert [Path(line).name for line in lines] == [
        f"{n:02d} clip-{13 - n:02d}.mp4" for n in range(1, 13)
    ]
    for line in lines:
        info = ffprobe(line)
        assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=0.2)
        assert streams(info) == ["audio", "video"]


def test_json_records_and_rerun_is_a_duplicate(origin: Origin, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, lines, _ = run("get", origin.url("/video.mp4"), "-o", str(out), "--json")
    assert code == 0
    [record] = [json.loads(line) for line in lines]
    assert record["status"] == "completed" and record["item_id"] == "video"
    assert Path(record["file"]).is_file() and record["sha256"] and record["duplicate_of"] is None
    code, lines, _ = run("get", origin.url("/video.mp4"), "-o", str(out), "--json")
    again = json.loads(lines[0])
    assert again["duplicate_of"] == record["path"] and again["file"] == record["file"]
    assert len(visible(out)) == 1


def test_audio_only_mp3(origin: Origin, tmp_path: Path) -> None:
    code, lines, _ = run(
        "get",
        origin.url("/video.mp4"),
        "-o",
        str(tmp_path),
        "--audio-only",
        "--audio-format",
        "mp3",
        "--audio-bitrate",
        "128k",
    )
    assert code == 0 and lines[0].endswith(".mp3")
    info = ffprobe(lines[0])
    assert streams(info) == ["audio"] and info["streams"][0]["codec_name"] == "mp3"


def test_subs_thumbnail_template_remux(origin: Origin, tmp_path: Path) -> None:
    code, lines, err = run(
        "get",
        origin.url("/html5.html"),
        "-o",
        str(tmp_path),
        "--subs",
        "en",
        "--thumbnail",
        "--template",
        "{safe_title}.{ext}",
        "--remux",
        "mkv",
        "--connections",
        "2",
    )
    assert code == 0, err
    assert lines == [str(tmp_path / "HTML5_Clip_1.mkv")]
    assert sorted(p.name for p in visible(tmp_path)) == [
        "HTML5_Clip_1.en.vtt",
        "HTML5_Clip_1.jpg",
        "HTML5_Clip_1.mkv",
    ]
    assert "matroska" in ffprobe(lines[0])["format"]["format_name"]


def test_embedded_subs_and_thumbnail(origin: Origin, tmp_path: Path) -> None:
    code, lines, _ = run(
        "get",
        origin.url("/html5.html"),
        "-o",
        str(tmp_path),
        "--subs",
        "all",
        "--embed-subs",
        "--embed-thumbnail",
    )
    assert code == 0
    info = ffprobe(lines[0])
    assert [s["codec_type"] for s in info["streams"]].count("subtitle") == 2
    assert any(s.get("disposition", {}).get("attached_pic") for s in info["streams"])


def test_cookies_are_sent(origin: Origin, tmp_path: Path) -> None:
    video = (origin.root / "video.mp4").read_bytes()

    def members_only(req: OriginRequest) -> tuple[int, dict[str, str], bytes]:
        if "session=s3cret" not in req.headers.get("Cookie", ""):
            return 403, {}, b"forbidden"
        return 200, {"Content-Type": "video/mp4"}, video

    origin.routes["/members/clip.mp4"] = members_only
    jar = tmp_path / "cookies.txt"
    jar.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts3cret\n")
    code, _, err = run("get", origin.url("/members/clip.mp4"), "-o", str(tmp_path / "no"))
    assert code == 1 and "403" in err
    code, lines, err = run(
        "get", origin.url("/members/clip.mp4"), "-o", str(tmp_path / "yes"), "--cookies", str(jar)
    )
    assert code == 0, err
    assert streams(ffprobe(lines[0])) == ["audio", "video"]


def test_playlist_items_and_drm_skip(origin: Origin, tmp_path: Path) -> None:
    code, lines, _ = run("get", origin.url("/feed.rss"), "-o", str(tmp_path), "-I", "2,4", "--json")
    assert code == 0 and [json.loads(line)["item_id"] for line in lines] == ["clip-11", "clip-09"]
    code, lines, err = run("get", origin.url("/drm/manifest.mpd"), "-o", str(tmp_path / "drm"))
    assert code == 0 and lines == [] and "drm_protected" in err


@pytest.mark.parametrize(
    ("target", "args", "code_name"),
    [
        ("ftp://127.0.0.1/video.mp4", [], "unsupported_url"),
        ("/missing.mp4", [], "http_error"),
        ("/nomedia.html", [], "no_media"),
        ("/video.mp4", ["-f", "bv*[height<="], "invalid_input"),
        ("/video.mp4", ["-f", "best[ext=webm]"], "format_unavailable"),
        ("/video.mp4", ["--template", "{nope}.{ext}"], "invalid_template"),
        ("/video.mp4", ["--audio-bitrate", "999k"], "invalid_input"),
    ],
)
def test_bad_inputs(
    origin: Origin, tmp_path: Path, target: str, args: list[str], code_name: str
) -> None:
    out = tmp_path / "out"
    url = target if "://" in target else origin.url(target)
    code, lines, err = run("get", url, "-o", str(out), *args)
    assert code == 1 and lines == []
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: [{code_name}] ")
    assert not out.exists() or visible(out) == []
    assert not (out / ".mediavault" / "tmp" / "work").exists()


def test_unwritable_output_dir(origin: Origin, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, lines, err = run("get", origin.url("/video.mp4"), "-o", str(blocker / "out"))
    assert code == 1 and lines == []
    assert err.startswith("error: [path_not_writable] ")
    assert blocker.read_text() == "x"


def test_info_and_formats(origin: Origin) -> None:
    code, lines, _ = run("info", origin.url("/feed.rss"))
    assert code == 0 and lines[0] == "Test Channel" and "12 entries" in lines[1]
    assert "Clip 12" in lines[2] and "smuggle" not in lines[2]
    code, lines, _ = run("info", origin.url("/page.html"), "--json")
    record = json.loads("\n".join(lines))
    assert record["type"] == "item" and record["title"] == "Origin Page Clip"
    code, lines, _ = run("formats", origin.url("/hls/master.m3u8"))
    assert code == 0 and lines[0].split()[:3] == ["ID", "EXT", "RESOLUTION"]
    assert [line.split()[2] for line in lines[1:]] == ["320x180", "640x360"]
    code, lines, _ = run("formats", origin.url("/drm/manifest.mpd"))
    assert all(line.rstrip().endswith("DRM") for line in lines[1:])
    code, _, err = run("info", origin.url("/missing.mp4"))
    assert code == 1 and err.startswith("error: [http_error]")


def test_progress_bar_on_a_terminal() -> None:
    buffer = io.StringIO()
    display = ProgressDisplay(Console(file=buffer, force_terminal=True, width=120))
    with display:
        display.update(
            Progress(
                item_id="x", title="A clip", downloaded_bytes=512 * 1024, total_bytes=1024 * 1024
            )
        )
        display.update(
            Progress(
                item_id="x",
                title="A clip",
                status="finished",
                downloaded_bytes=1024 * 1024,
                total_bytes=1024 * 1024,
            )
        )
    text = buffer.getvalue()
    assert "A clip" in text and "1.0/1.0 MB" in text
    quiet = ProgressDisplay(None)
    quiet.update(Progress(item_id="x"))  # no terminal: nothing drawn, nothing raised


def test_interrupted_get_resumes(origin: Origin, tmp_path: Path) -> None:
    out = tmp_path / "out"
    size = (origin.root / "video.mp4").stat().st_size
    origin.throttle["/video.mp4"] = size // 4
    cmd = [
        sys.executable,
        "-m",
        "mediavault.cli.get",
        "get",
        origin.url("/video.mp4"),
        "-o",
        str(out),
        "--connections",
        "1",
    ]
    env = dict(
        os.environ,
        MEDIAVAULT_ALLOW_PRIVATE_NETWORKS="true",
        MEDIAVAULT_DATA_DIR=str(tmp_path / "data"),
    )
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not list(out.rglob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert list(out.rglob("*.part")) and visible(out) == []
    origin.throttle.clear()
    origin.reset_stats()
    code, lines, err = run("get", origin.url("/video.mp4"), "-o", str(out))
    assert code == 0, err
    ranged = [
        rng for method, path, rng in origin.log if path == "/video.mp4" and rng and method == "GET"
    ]
    assert ranged and all(not rng.startswith("bytes=0-") for rng in ranged)
    assert float(ffprobe(lines[0])["format"]["duration"]) == pytest.approx(3.0, abs=0.2)
