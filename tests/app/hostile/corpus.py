"""A corpus of hostile and broken inputs, generated at test time (never committed binaries).

Each builder writes one case into a folder the test gives and returns its path. Tests in
this package feed them to the CLI, the core and the wizard's loaders and assert a plain
error that names the file, never a hang, a traceback or a changed input.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading blocks until a writer comes (none will)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    assert stat.S_ISFIFO(os.stat(path).st_mode)
    return path


def device_link(path: Path, device: str = "/dev/zero") -> Path:
    """A link to a character device: reading it never ends (``/dev/zero``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(device)
    return path


def nested_json(path: Path, depth: int = 1000) -> Path:
    """Valid JSON that nests ``depth`` lists deep (json's recursion limit is about 1000)."""
    path.write_text("[" * depth + "]" * depth, encoding="utf-8")
    return path
