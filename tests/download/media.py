"""Small HLS/DASH test media generated with ffmpeg (seconds long, a few hundred KB)."""

from __future__ import annotations

import subprocess
from pathlib import Path

DURATION = 12
SEGMENT = 0.5
KEY = bytes(range(16))


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=60,
    )


def make_media(root: Path) -> None:
    """source.ts plus HLS renditions of it (stream copies, so packets stay identical):

    plain/  TS segments            enc/    AES-128 TS segments (key at /enc/key.bin)
    fmp4/   fMP4 single file with byte ranges and EXT-X-MAP
    dash/   fMP4 init.mp4 + seg*.m4s (used as an explicit DASH fragment list)
    master.m3u8 with two variants (the low one points to a missing playlist)
    """
    src = root / "source.ts"
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={DURATION}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-keyint_min", "5",
        "-c:a", "aac", "-b:a", "32k", "-f", "mpegts", str(src),
    )
    hls = ["-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT), "-hls_list_size", "0"]
    (root / "plain").mkdir()
    _ffmpeg("-i", str(src), *hls, "-hls_segment_filename", str(root / "plain/seg%03d.ts"),
            str(root / "plain/index.m3u8"))
    enc = root / "enc"
    enc.mkdir()
    (enc / "key.bin").write_bytes(KEY)
    (enc / "keyinfo").write_text(f"key.bin\n{enc / 'key.bin'}\n")
    _ffmpeg("-i", str(src), *hls, "-hls_key_info_file", str(enc / "keyinfo"),
            "-hls_segment_filename", str(enc / "seg%03d.ts"), str(enc / "index.m3u8"))
    hls += ["-bsf:a", "aac_adtstoasc"]  # fMP4 needs raw AAC (ffmpeg 5 does not insert it)
    (root / "fmp4").mkdir()
    _ffmpeg("-i", str(src), *hls, "-hls_segment_type", "fmp4", "-hls_flags", "single_file",
            "-hls_fmp4_init_filename", "init.mp4", str(root / "fmp4/index.m3u8"))
    (root / "dash").mkdir()
    _ffmpeg("-i", str(src), *hls, "-hls_segment_type", "fmp4",
            "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(root / "dash/seg%03d.m4s"), str(root / "dash/index.m3u8"))
    _encrypt_with_sequence_ivs(root / "plain", root / "enc2", first_sequence=7)
    (root / "master.m3u8").write_text(
        "#EXTM3U\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=80x60\nlow/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=160x120\nplain/index.m3u8\n"
    )


def _encrypt_with_sequence_ivs(plain: Path, out: Path, *, first_sequence: int) -> None:
    """enc2/: the plain segments AES-128 encrypted with the implicit IV (media sequence)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    out.mkdir()
    (out / "key.bin").write_bytes(KEY[::-1])
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1", f"#EXT-X-MEDIA-SEQUENCE:{first_sequence}",
             '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"']
    for index, seg in enumerate(sorted(plain.glob("*.ts"))):
        padder = padding.PKCS7(128).padder()
        data = padder.update(seg.read_bytes()) + padder.finalize()
        iv = (first_sequence + index).to_bytes(16, "big")
        enc = Cipher(algorithms.AES(KEY[::-1]), modes.CBC(iv)).encryptor()
        (out / seg.name).write_bytes(enc.update(data) + enc.finalize())
        lines += ["#EXTINF:0.5,", seg.name]
    lines.append("#EXT-X-ENDLIST")
    (out / "index.m3u8").write_text("\n".join(lines) + "\n")


def video_packets(path: Path) -> list[tuple[str, str]]:
    """(size, md5) of every decoded video frame: equal lists mean the same video.

    Decoded, not copied: H.264 packets are framed differently in TS and MP4."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:v", "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    return [(row[4].strip(), row[5].strip()) for row in rows]


def probe_format(path: Path) -> str:
    return subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=format_name", "-of", "csv=p=0",
         str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()
