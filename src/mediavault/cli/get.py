"""``mediavault get``, ``mediavault info`` and ``mediavault formats`` (SPEC §4).

``get`` downloads directly (no server): a live progress bar on stderr when it is a
terminal, each final file path on stdout (``--json``: one JSON record per item), exit 0
on success, 1 with one ``error: [code] message`` line on failure. Work files live in
``<output dir>/.mediavault`` so re-running an interrupted ``get`` resumes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from mediavault.cli import app, fail
from mediavault.cli._display import ProgressDisplay, describe, format_table
from mediavault.client import Client
from mediavault.config import Settings, get_settings
from mediavault.errors import InputError, MediavaultError
from mediavault.models import (
    AudioFormat,
    Collection,
    DownloadOptions,
    DownloadResult,
    ItemStatus,
)

__all__ = ["formats", "get", "info"]


def _settings() -> Settings:
    try:
        return get_settings()
    except MediavaultError as exc:
        raise fail(exc) from exc


def _run(main: Callable[[], Any]) -> Any:
    try:
        return asyncio.run(main())
    except MediavaultError as exc:
        raise fail(exc) from exc


def _credentials(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from mediavault.platforms._utils import load_credentials_file

    return dict(load_credentials_file(path))


def _languages(subs: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (subs or "").split(",") if part.strip())


@app.command()
def get(
    urls: list[str] = typer.Argument(..., help="One or more URLs (items, playlists, feeds)."),
    output: Path = typer.Option(Path("."), "-o", "--output", help="Output directory."),
    fmt: str = typer.Option(
        "best", "-f", "--format", help="best, worst, 1080p/720p/..., audio, or a yt-dlp spec."
    ),
    audio_only: bool = typer.Option(False, "--audio-only", help="Keep only the audio."),
    audio_format: AudioFormat | None = typer.Option(
        None, "--audio-format", help="Audio container/codec (implies --audio-only)."
    ),
    audio_bitrate: str | None = typer.Option(None, "--audio-bitrate", help="96k-320k."),
    subs: str | None = typer.Option(None, "--subs", help="Subtitle languages: en,de or all."),
    sub_format: str | None = typer.Option(None, "--sub-format", help="Convert to srt/vtt/ass."),
    embed_subs: bool = typer.Option(False, "--embed-subs", help="Embed the subtitles."),
    thumbnail: bool = typer.Option(False, "--thumbnail", help="Save the thumbnail beside."),
    embed_thumbnail: bool = typer.Option(False, "--embed-thumbnail", help="Embed it."),
    no_metadata: bool = typer.Option(False, "--no-metadata", help="Do not embed tags."),
    remux: str | None = typer.Option(None, "--remux", help="Target container (mp4, mkv...)."),
    template: str | None = typer.Option(None, "--template", help="Output path template."),
    playlist_items: str | None = typer.Option(
        None, "-I", "--playlist-items", help="Entries to take, e.g. 1-10,15."
    ),
    connections: int | None = typer.Option(
        None, "--connections", min=1, max=64, help="Connections per file."
    ),
    cookies: Path | None = typer.Option(None, "--cookies", help="A Netscape cookies.txt."),
    credentials: Path | None = typer.Option(
        None, "--credentials", help="An auth.json-style credentials file."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per item."),
) -> None:
    """Download media from URLs into a directory."""
    settings = _settings()
    try:
        options = DownloadOptions(
            format=fmt,
            audio_only=audio_only or audio_format is not None,
            audio_format=audio_format,
            audio_bitrate=audio_bitrate,
            container=remux,
            subtitles=_languages(subs),
            subtitle_format=sub_format,
            embed_subtitles=embed_subs,
            thumbnail=thumbnail,
            embed_thumbnail=embed_thumbnail,
            embed_metadata=not no_metadata,
            template=template,
            playlist_items=playlist_items,
            connections=connections,
            cookies_file=str(cookies) if cookies else None,
        )
        creds = _credentials(credentials)
    except MediavaultError as exc:
        raise fail(exc) from exc
    except ValueError as exc:  # pydantic validation of the options
        first = str(exc).splitlines()
        raise fail(InputError(" ".join(first[1:3]) if len(first) > 2 else str(exc))) from exc

    async def main() -> bool:
        display = ProgressDisplay.for_stderr()
        ok = True
        async with Client(
            settings,
            output_dir=output,
            cookies_file=str(cookies) if cookies else None,
            credentials=creds,
        ) as mv:
            with display:
                for url in urls:
                    results = await mv.download(url, options, on_progress=display.update)
                    for result in results:
                        ok = _report(mv, result, as_json=as_json, display=display) and ok
        return ok

    if not _run(main):
        raise typer.Exit(1)


def _report(mv: Client, result: DownloadResult, *, as_json: bool, display: ProgressDisplay) -> bool:
    """Print one result; False when it failed."""
    local = mv.local_path(result)
    where = (
        str(local) if local is not None else (mv.storage.uri(result.path) if result.path else "")
    )
    extras = [str(mv.storage.local_path(key) or key) for key in result.extra_paths]
    if as_json:
        record = result.model_dump(mode="json")
        record["file"] = where or None
        record["extra_files"] = extras
        display.print_out(json.dumps(record, ensure_ascii=False))
    elif result.status is ItemStatus.COMPLETED:
        display.print_out(where)
    if result.status is ItemStatus.SKIPPED and not as_json:
        display.print_err(f"skipped: {result.title} [{result.reason}] {result.message or ''}")
    if result.status is ItemStatus.FAILED:
        display.print_err(f"error: [{result.reason}] {result.title}: {result.message or ''}")
        return False
    return True


@app.command()
def info(
    url: str = typer.Argument(..., help="The URL to describe."),
    as_json: bool = typer.Option(False, "--json", help="The full record as JSON."),
    cookies: Path | None = typer.Option(None, "--cookies", help="A Netscape cookies.txt."),
) -> None:
    """Show what a URL holds: an item's metadata or a collection's entries."""
    settings = _settings()

    async def main() -> None:
        async with Client(settings, cookies_file=str(cookies) if cookies else None) as mv:
            result = await mv.info(url)
        if as_json:
            payload = result.model_dump(mode="json")
            payload["type"] = "collection" if isinstance(result, Collection) else "item"
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            print(describe(result))

    _run(main)


@app.command()
def formats(
    url: str = typer.Argument(..., help="The item URL."),
    cookies: Path | None = typer.Option(None, "--cookies", help="A Netscape cookies.txt."),
) -> None:
    """List the formats of an item (DRM-protected ones are marked and never downloaded)."""
    settings = _settings()

    async def main() -> None:
        async with Client(settings, cookies_file=str(cookies) if cookies else None) as mv:
            found = await mv.formats(url)
        print(format_table(found))

    _run(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
