"""A reader that leaves early (``segmap census F | head -1``) is a normal end, not a bug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.app.builders import nifti, volume


def _run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``segmap ARGS`` with stdout a pipe nobody reads: the read end is closed before
    the command starts, so its first write meets a broken pipe (no timing involved)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], stdout=write,
                              stderr=subprocess.PIPE, timeout=300, check=False)
    finally:
        os.close(write)


def test_census_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    mask = nifti(tmp_path / "seg.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): 2, (2, 0, 0): 3}))
    done = _run_into_closed_pipe("census", str(mask))
    assert done.stderr == b""
    assert done.returncode == 141


def test_help_into_a_closed_pipe_ends_quietly() -> None:
    done = _run_into_closed_pipe("--help")
    assert done.stderr == b""
