"""Terminal output for ``get``/``info``/``formats``: progress bars, descriptions, tables.

Progress bars are drawn with Rich on stderr, and only when stderr is a terminal; results
go to stdout so they can be piped.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from mediavault.models import Collection, Format, MediaItem
from mediavault.models import Progress as ItemProgress

__all__ = ["ProgressDisplay", "describe", "format_table"]


class ProgressDisplay:
    """One bar per item (bytes, speed, ETA) on a terminal; silent otherwise."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if console is not None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}", justify="left"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )

    @classmethod
    def for_stderr(cls) -> ProgressDisplay:
        return cls(Console(stderr=True) if sys.stderr.isatty() else None)

    def __enter__(self) -> ProgressDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, event: ItemProgress) -> None:
        if self.progress is None:
            return
        label = (event.title or event.item_id)[:40]
        if event.status == "postprocessing":
            label = f"{label} (processing)"
        task = self.tasks.get(event.item_id)
        if task is None:
            task = self.progress.add_task(label, total=event.total_bytes)
            self.tasks[event.item_id] = task
        total = event.total_bytes
        if event.status == "finished":
            total = event.downloaded_bytes or total
        self.progress.update(task, description=label, completed=event.downloaded_bytes, total=total)

    def print_out(self, line: str) -> None:
        """A result line on stdout (kept apart from the live bars)."""
        print(line, flush=True)

    def print_err(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(result: MediaItem | Collection) -> str:
    """A short human description of an item or a collection."""
    if isinstance(result, Collection):
        lines = [
            f"{result.title}",
            f"  {result.kind} on {result.platform}, id {result.id}, "
            f"{result.entry_count if result.entry_count is not None else '?'} entries",
        ]
        for n, entry in enumerate(result.entries, start=1):
            url = entry.url.split("#__youtubedl_smuggle=", 1)[0]
            lines.append(f"  {entry.index or n:>4}. {entry.title or entry.id or '?'}  {url}")
        return "\n".join(lines)
    usable = [f for f in result.formats if not f.drm]
    lines = [
        f"{result.title}",
        f"  platform: {result.platform}   id: {result.id}   duration: {_duration(result.duration)}",
        f"  uploader: {result.uploader or '?'}   date: {result.upload_date or '?'}",
        f"  formats: {len(result.formats)} ({len(result.formats) - len(usable)} DRM-protected)",
    ]
    if result.subtitles:
        langs = sorted({s.lang for s in result.subtitles})
        lines.append(f"  subtitles: {', '.join(langs)}")
    if result.drm:
        lines.append("  DRM-protected: will be skipped")
    lines.append(f"  url: {result.url}")
    return "\n".join(lines)


def _resolution(fmt: Format) -> str:
    if fmt.is_audio_only:
        return "audio only"
    if fmt.width and fmt.height:
        return f"{fmt.width}x{fmt.height}"
    return f"{fmt.height}p" if fmt.height else "?"


def format_table(found: list[Format]) -> str:
    """A plain-text table of formats, one per line."""
    header = ("ID", "EXT", "RESOLUTION", "FPS", "VCODEC", "ACODEC", "TBR", "PROTO", "NOTE")
    rows = [header]
    for fmt in found:
        note = ", ".join(filter(None, [fmt.note, "DRM" if fmt.drm else None]))
        rows.append(
            (
                fmt.format_id,
                fmt.ext,
                _resolution(fmt),
                f"{fmt.fps:g}" if fmt.fps else "",
                fmt.vcodec or "?",
                fmt.acodec or "?",
                f"{fmt.tbr:.0f}k" if fmt.tbr else "",
                fmt.protocol.value,
                note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
