"""The entry point loads only the invoked command's module; every command must still
run under its own name (Typer would otherwise collapse a lone command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mediavault.cli import _MODULE_OF

ENTRY = [str(Path(sys.executable).with_name("mediavault"))]  # the installed console script


@pytest.mark.parametrize("command", sorted(_MODULE_OF))
def test_each_command_runs_under_its_name(command: str) -> None:
    done = subprocess.run([*ENTRY, command, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"mediavault {command}" in " ".join(done.stdout.split())


def test_bare_help_lists_every_command() -> None:
    done = subprocess.run([*ENTRY, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in _MODULE_OF:
        assert command in done.stdout


def test_a_lazy_get_does_not_load_the_service_stack() -> None:
    script = (
        "import sys; from mediavault.cli import _load_commands; _load_commands(['get']); "
        "assert 'sqlalchemy' not in sys.modules and 'fastapi' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'fastapi')))[:3]"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
