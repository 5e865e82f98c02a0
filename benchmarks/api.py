"""API latency under load (run: python benchmarks/api.py [--database sqlite|postgres|both]
[--runs N] [--set NAME=VALUE]... [--profile DIR] [--no-report]).

Starts ``mediavault serve`` (API + embedded worker, auth=apikey; SQLite by default, or a
fresh PostgreSQL database on 127.0.0.1:5432 with ``--database postgres``) as its own
process, a throttled loopback origin, and 10 downloads that keep running during the
measurement; then ``wrk`` (a second process; installed with apt if missing) hammers
``GET /api/v1/download/{id}`` and ``GET /api/v1/health`` and reports p50/p95/p99 and
requests/s. Every run is listed, with the machine's load average before and after it, in
``benchmarks/README-api.md`` (unless ``--no-report``). Target: p95 < 25 ms.

``--profile DIR`` records the service (API and worker child) with py-spy during the
status run (``pip install py-spy`` first): ``DIR/<database>-<run>.txt``, collapsed stacks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.media import ensure_media  # noqa: E402
from tests.support.origin import Origin  # noqa: E402

DOWNLOADS = 10
DURATION = "15s"
CONNECTIONS = 10
THREADS = 2
# Realistic transfers: 1 MB/s per connection (a real origin, not saturated loopback),
# 10 at once; 96 MB files (sparse: no disk cost at the origin) outlast the measurement.
DOWNLOAD_RATE = 1_000_000
DOWNLOAD_SIZE = 96 * 1024 * 1024
TARGET_MS = 25.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
STATUS = "GET /api/v1/download/{id}"
HEALTH = "GET /api/v1/health"
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.requests,
    summary.duration, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Run:
    database: str
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    running_at_start: int = 0
    running_at_end: int = 0
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    cpu: dict[str, float] = field(default_factory=dict)  # CPU s during the status run


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def wrk(binary: str, url: str, key: str, script: Path) -> dict[str, float]:
    out = run(
        binary,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{DURATION}",
        "-s",
        str(script),
        "-H",
        f"X-API-Key: {key}",
        url,
        env=dict(os.environ),
    )
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    p50, p95, p99, requests, duration_us, errors = (int(v) for v in line.split()[1:])
    return {
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
        "p99_ms": p99 / 1000,
        "rps": requests / (duration_us / 1e6),
        "errors": errors,
    }


@contextmanager
def database_url(database: str) -> Iterator[str | None]:
    """None for the default SQLite file; a fresh PostgreSQL database, dropped after."""
    if database == "sqlite":
        yield None
        return
    import psycopg

    name = f"mv_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def profiler(pid: int, out: Path | None) -> Iterator[None]:
    if out is None:
        yield
        return
    seconds = str(int(DURATION.rstrip("s")))
    spy_bin = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [spy_bin, "record", "--subprocesses", "--idle", "--format", "raw"]
    spy = subprocess.Popen([*command, "-p", str(pid), "-d", seconds, "-o", str(out)])
    try:
        yield
    finally:
        spy.wait(60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_split(pid: int) -> dict[str, float]:
    """CPU seconds so far of the API process and of its children (the worker)."""
    return {"api": cpu_seconds(pid), "worker": sum(cpu_seconds(c) for c in children(pid))}


def wait_healthy(client: httpx.Client) -> None:
    for _ in range(150):
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become healthy")


def running(client: httpx.Client) -> int:
    return len(client.get("/jobs", params={"status": "running"}).json()["items"])


def measure(database: str, profile: Path | None, settings: dict[str, str]) -> Run:
    binary = ensure_wrk()
    media = ensure_media()
    data = Path(tempfile.mkdtemp(prefix="mediavault-bench-api-"))
    port = free_port()
    label = " ".join([database, *(f"{k.upper()}={v}" for k, v in settings.items())])
    result = Run(database=label, load_before=os.getloadavg())
    with database_url(database) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAVAULT_")}
        env.update(
            MEDIAVAULT_DATA_DIR=str(data),
            MEDIAVAULT_AUTH="apikey",
            MEDIAVAULT_ALLOWED_HOSTS="127.0.0.1,localhost,::1",
            MEDIAVAULT_ALLOW_PRIVATE_NETWORKS="true",
            MEDIAVAULT_RATE_LIMIT_PER_MINUTE="100000000",
            MEDIAVAULT_WORKER_CONCURRENCY=str(DOWNLOADS),
            MEDIAVAULT_HOST_CONCURRENCY=str(DOWNLOADS),
            MEDIAVAULT_LOG_LEVEL="WARNING",
            MEDIAVAULT_CONNECTIONS="1",
        )
        if url is not None:
            env["MEDIAVAULT_DATABASE_URL"] = url
        env.update({f"MEDIAVAULT_{k.upper()}": v for k, v in settings.items()})
        cli = [sys.executable, "-c", "from mediavault.cli import main; main()"]
        run(*cli, "db", "upgrade", env=env)
        key = run(*cli, "keys", "create", "--user", "bench", env=env).strip().splitlines()[-1]
        server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env)
        served = data / "origin"  # distinct files: distinct items, not one item ten times
        served.mkdir()
        head = (media.root / "video.mp4").read_bytes()
        for n in range(DOWNLOADS):
            with open(served / f"video{n}.mp4", "wb") as out:
                out.write(head)
                out.truncate(DOWNLOAD_SIZE)
        origin = Origin(served)
        origin.throttle["/video"] = DOWNLOAD_RATE
        script = data / "p95.lua"
        script.write_text(LUA)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            origin.start()
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
                wait_healthy(client)
                ids = [
                    client.post(
                        "/download", json={"url": origin.url(f"/video{n}.mp4"), "connections": 1}
                    ).json()["id"]
                    for n in range(DOWNLOADS)
                ]
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and running(client) < DOWNLOADS:
                    time.sleep(0.2)
                result.running_at_start = running(client)
                before = cpu_split(server.pid)
                with profiler(server.pid, profile):
                    status = wrk(binary, f"{base}/download/{ids[0]}", key, script)
                after = cpu_split(server.pid)
                result.cpu = {k: after[k] - before[k] for k in after}
                result.results[STATUS] = status
                result.results[HEALTH] = wrk(binary, f"{base}/health", key, script)
                result.running_at_end = running(client)
        finally:
            server.terminate()
            server.wait(60)
            origin.stop()
            shutil.rmtree(data, ignore_errors=True)
    result.load_after = os.getloadavg()
    return result


def load(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def write_report(runs: list[Run]) -> str:
    lines = [
        "# API latency under load",
        "",
        f"`python benchmarks/api.py --database sqlite|postgres|both --runs N`: `mediavault "
        f"serve` (embedded worker, auth=apikey) with {DOWNLOADS} throttled downloads "
        f"running; `wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}` from a second process on "
        f"{os.cpu_count()} cores, status first, then health. Target p95 < {TARGET_MS:.0f} ms. "
        "Every run is listed; load average (1/5/15 min) before and after each run. "
        f"Downloads: {DOWNLOADS} at once, {DOWNLOAD_SIZE // 2**20} MB files, the origin "
        f"throttled to {DOWNLOAD_RATE / 1e6:g} MB/s per connection (a real remote server, "
        "not saturated loopback).",
        "",
        "| database | run | endpoint | p50 ms | p95 ms | p99 ms | req/s | errors | "
        "running start/end | load before | load after | p95 target |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    count: dict[str, int] = {}
    for r in runs:
        count[r.database] = count.get(r.database, 0) + 1
        for name, m in r.results.items():
            verdict = "met" if m["p95_ms"] < TARGET_MS else "missed"
            lines.append(
                f"| {r.database} | {count[r.database]} | `{name}` | {m['p50_ms']:.2f} | "
                f"{m['p95_ms']:.2f} | {m['p99_ms']:.2f} | {m['rps']:.0f} | {m['errors']:.0f} | "
                f"{r.running_at_start}/{r.running_at_end} | {load(r.load_before)} | "
                f"{load(r.load_after)} | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="py-spy records go to this directory")
    parser.add_argument("--no-report", action="store_true", help="leave README-api.md alone")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting for the runs, e.g. job_view_seconds=0 (MEDIAVAULT_NAME)",
    )
    args = parser.parse_args()
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    settings = dict(item.split("=", 1) for item in args.set)
    runs: list[Run] = []
    for database in databases:
        for n in range(1, args.runs + 1):
            out = args.profile / f"{database}-{n}.txt" if args.profile else None
            runs.append(measure(database, out, settings))
            print(json.dumps(runs[-1].__dict__, indent=2), flush=True)
    table = write_report(runs)
    print(table)
    if not args.no_report:
        path = REPO / "benchmarks" / "README-api.md"
        notes = path.read_text().split("\n## ", 1)
        tail = "\n## " + notes[1] if len(notes) > 1 else ""
        path.write_text(table + tail)


if __name__ == "__main__":
    main()
