"""Transfer benchmark: mediavault vs curl, aria2c and yt-dlp on the same loopback origin.

    .venv/bin/python benchmarks/transfer.py [--workdir DIR] [--size-mb 250] [--rate-mb 4]

Scenarios (each tool runs against the same origin in the same run):
  (a) a ~250 MB MP4, unthrottled          curl, aria2c -x8 -s8, yt-dlp, mediavault
  (b) the same file, 4 MB/s per connection curl, aria2c -x8 -s8, mediavault
  (c) HLS, 120 x 1 s TS fragments          yt-dlp, yt-dlp -N 8, mediavault (unthrottled
      and per-connection throttled)
The MP4 is a real 2 s ffmpeg MP4 followed by a ``free`` box of random bytes (valid MP4,
incompressible payload). Wall time and peak RSS (``wait4``) are measured per process.
Targets: (a) mv <= 1.1x curl; (b) mv <= 1.25x aria2c and >= 5x faster than curl;
(c) mv <= 0.5x yt-dlp unthrottled, <= 1.0x yt-dlp -N 8 throttled; peak RSS <= 150 MB.

Each tool's output is deleted once checked: on this VM, writing into memory the guest
never touched before costs extra (~0.5 s per 250 MB once a GB of outputs was kept), which
penalised whichever tool ran last.

(a) also times the transfer engine alone: ``download.fetch()`` (segmented transfer,
sha256 and move into place) from its first request to its return, inside a process
whose interpreter start-up and imports are not counted; curl's own start-up is ~5 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _origin_setup import OriginProcess, make_big_mp4, make_hls, sha256_file

VENV_BIN = Path(sys.executable).parent
MB = 1024 * 1024

FETCH_SCRIPT = """
import asyncio, sys
from pathlib import Path
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.models import Format, Protocol
from mediavault.net.session import HttpSession

async def main():
    url, dest, proto = sys.argv[1], Path(sys.argv[2]), Protocol(sys.argv[3])
    settings = Settings(data_dir=dest.parent / ".mvdata")
    async with HttpSession(settings) as http:
        await fetch(Format(format_id="b", url=url, protocol=proto), dest, session=http,
                    settings=settings)

asyncio.run(main())
"""

ENGINE_SCRIPT = """
import asyncio, sys, time
from pathlib import Path
from mediavault.config import Settings
from mediavault.download import fetch
from mediavault.models import Format, Protocol
from mediavault.net.session import HttpSession

async def main():
    url, dest = sys.argv[1], Path(sys.argv[2])
    settings = Settings(data_dir=dest.parent / ".mvdata")
    async with HttpSession(settings) as http:
        started = time.monotonic()
        result = await fetch(Format(format_id="b", url=url, protocol=Protocol.HTTP), dest,
                             session=http, settings=settings)
        assert result.sha256, "no digest"
        print(f"engine_seconds={time.monotonic() - started:.4f}")

asyncio.run(main())
"""


@dataclass
class Run:
    tool: str
    seconds: float
    peak_rss_mb: float
    ok: bool


def _hwm_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) of the process itself (not its children), exit status.

    VmHWM is polled every 10 ms; it is monotonic, so the last reading is the peak.
    (wait4's ru_maxrss would count the parent's pages inherited across fork.)"""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kb(proc.pid))
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    if proc.returncode != 0 and proc.stderr is not None:
        print(f"    {cmd[0]} failed: {proc.stderr.read().decode(errors='replace')[-400:]}")
    return elapsed, peak / 1024, proc.returncode


def mediavault_cli_ready() -> bool:
    probe = subprocess.run([str(VENV_BIN / "mediavault"), "get", "--help"], capture_output=True)
    return probe.returncode == 0


def mediavault_cmd(url: str, dest: Path, protocol: str, use_cli: bool) -> list[str]:
    if use_cli:
        return [str(VENV_BIN / "mediavault"), "get", url, "-o", str(dest.parent),
                "--template", dest.name.rsplit(".", 1)[0] + ".{ext}"]
    return [sys.executable, "-c", FETCH_SCRIPT, url, str(dest), protocol]


def run_tool(name: str, cmd: list[str], dest: Path, check: str | None, env: dict[str, str]) -> Run:
    shutil.rmtree(dest.parent, ignore_errors=True)
    dest.parent.mkdir(parents=True)
    seconds, rss, code = timed(cmd, env)
    ok = code == 0 and dest.exists() and dest.stat().st_size > 0
    if ok and check is not None:
        ok = sha256_file(dest) == check
    shutil.rmtree(dest.parent, ignore_errors=True)  # the next tool starts from the same memory
    print(f"  {name:<16} {seconds:7.2f}s  peak RSS {rss:6.1f} MB  {'ok' if ok else 'FAILED'}")
    return Run(name, seconds, rss, ok)


def engine_run(url: str, dest: Path, check: str, env: dict[str, str]) -> Run:
    """The transfer engine alone (see the module docstring), sha256-checked."""
    shutil.rmtree(dest.parent, ignore_errors=True)
    dest.parent.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", ENGINE_SCRIPT, url, str(dest)], env=env,
                          capture_output=True, text=True)
    seconds = float("nan")
    for line in done.stdout.splitlines():
        if line.startswith("engine_seconds="):
            seconds = float(line.split("=", 1)[1])
    ok = done.returncode == 0 and dest.exists() and sha256_file(dest) == check
    shutil.rmtree(dest.parent, ignore_errors=True)
    if done.returncode != 0:
        print(f"    engine failed: {done.stderr[-400:]}")
    print(f"  {'mediavault engine':<16} {seconds:7.2f}s  (fetch() alone)  {'ok' if ok else 'FAILED'}")
    return Run("mediavault engine", seconds, 0.0, ok)


def file_tools(url: str, out: Path, use_cli: bool, throttled: bool) -> dict[str, tuple[list[str], Path]]:
    tools = {
        "curl": (["curl", "-s", "-o", str(out / "curl/big.mp4"), url], out / "curl/big.mp4"),
        "aria2c -x8 -s8": (
            ["aria2c", "-x8", "-s8", "-q", "--allow-overwrite=true", "--auto-file-renaming=false",
             "-d", str(out / "aria2c"), "-o", "big.mp4", url],
            out / "aria2c/big.mp4",
        ),
    }
    if not throttled:
        tools["yt-dlp"] = (
            [str(VENV_BIN / "yt-dlp"), "-q", "--no-progress", "-o", str(out / "ytdlp/big.mp4"), url],
            out / "ytdlp/big.mp4",
        )
    tools["mediavault"] = (mediavault_cmd(url, out / "mv/big.mp4", "http", use_cli), out / "mv/big.mp4")
    return tools


def hls_tools(url: str, out: Path, use_cli: bool, throttled: bool) -> dict[str, tuple[list[str], Path]]:
    ytdlp = [str(VENV_BIN / "yt-dlp"), "-q", "--no-progress"]
    tools: dict[str, tuple[list[str], Path]] = {}
    if not throttled:
        tools["yt-dlp"] = ([*ytdlp, "-o", str(out / "y1/v.mp4"), url], out / "y1/v.mp4")
    tools["yt-dlp -N 8"] = ([*ytdlp, "-N", "8", "-o", str(out / "y8/v.mp4"), url], out / "y8/v.mp4")
    tools["mediavault"] = (mediavault_cmd(url, out / "mv/v.mp4", "hls", use_cli), out / "mv/v.mp4")
    return tools


def scenario(title: str, tools: dict[str, tuple[list[str], Path]], check: str | None,
             env: dict[str, str]) -> dict[str, Run]:
    print(title)
    return {name: run_tool(name, cmd, dest, check, env) for name, (cmd, dest) in tools.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mediavault-bench"))
    parser.add_argument("--size-mb", type=int, default=250)
    parser.add_argument("--rate-mb", type=float, default=4.0)
    parser.add_argument("--hls-seconds", type=int, default=120)
    args = parser.parse_args()
    media = args.workdir / "media"
    out = args.workdir / "out"
    media.mkdir(parents=True, exist_ok=True)
    print("generating media (cached in", media, ")")
    big = media / "big.mp4"
    make_big_mp4(big, args.size_mb * MB)
    make_hls(media / "hls", args.hls_seconds)
    digest = sha256_file(big)
    fragments = len(list((media / "hls").glob("*.ts")))
    hls_mb = sum(p.stat().st_size for p in (media / "hls").glob("*.ts")) / MB
    use_cli = mediavault_cli_ready()
    env = {**os.environ, "MEDIAVAULT_ALLOW_PRIVATE_NETWORKS": "true",
           "MEDIAVAULT_ALLOWED_HOSTS": "127.0.0.1", "MEDIAVAULT_DATA_DIR": str(args.workdir / "mvdata")}
    print(f"mediavault via {'`mediavault get`' if use_cli else 'download.fetch() (CLI not available)'}")
    rate = int(args.rate_mb * MB)
    results: dict[str, dict[str, Run]] = {}
    with OriginProcess(media) as origin:
        results["a"] = scenario(f"(a) {args.size_mb} MB MP4, unthrottled",
                                file_tools(origin.url("big.mp4"), out, use_cli, False), digest, env)
        results["a"]["mediavault engine"] = engine_run(origin.url("big.mp4"), out / "engine/big.mp4",
                                                       digest, env)
        results["c1"] = scenario(f"(c) HLS {fragments} fragments ({hls_mb:.0f} MB), unthrottled",
                                 hls_tools(origin.url("hls/index.m3u8"), out, use_cli, False), None, env)
    with OriginProcess(media, rate) as origin:
        results["b"] = scenario(f"(b) {args.size_mb} MB MP4, {args.rate_mb:g} MB/s per connection",
                                file_tools(origin.url("big.mp4"), out, use_cli, True), digest, env)
        results["c2"] = scenario(f"(c) HLS {fragments} fragments, {args.rate_mb:g} MB/s per connection",
                                 hls_tools(origin.url("hls/index.m3u8"), out, use_cli, True), None, env)
    shutil.rmtree(out, ignore_errors=True)
    report(results)


def report(r: dict[str, dict[str, Run]]) -> None:
    def t(key: str, tool: str) -> float:
        return r[key][tool].seconds

    rows = [
        ("(a) mediavault / curl, unthrottled", t("a", "mediavault") / t("a", "curl"), "<= 1.1"),
        ("(a) engine alone / curl, unthrottled (see notes)",
         t("a", "mediavault engine") / t("a", "curl"), "(<= 1.1)"),
        ("(b) mediavault / aria2c -x8 -s8, throttled", t("b", "mediavault") / t("b", "aria2c -x8 -s8"), "<= 1.25"),
        ("(b) curl / mediavault, throttled (speed-up)", t("b", "curl") / t("b", "mediavault"), ">= 5"),
        ("(c) mediavault / yt-dlp, HLS unthrottled", t("c1", "mediavault") / t("c1", "yt-dlp"), "<= 0.5"),
        ("(c) mediavault / yt-dlp -N 8, HLS throttled", t("c2", "mediavault") / t("c2", "yt-dlp -N 8"), "<= 1.0"),
    ]
    print("\n| ratio | measured | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value:.2f} | {target} |")
    peak = max(run.peak_rss_mb for key in r for name, run in r[key].items() if name == "mediavault")
    print(f"| mediavault peak RSS (all scenarios) | {peak:.0f} MB | <= 150 MB |")
    print("\n| scenario | tool | wall s | peak RSS MB | ok |\n|---|---|---|---|---|")
    for key, runs in r.items():
        for run in runs.values():
            print(f"| {key} | {run.tool} | {run.seconds:.2f} | {run.peak_rss_mb:.0f} | {'yes' if run.ok else 'NO'} |")


if __name__ == "__main__":
    main()
