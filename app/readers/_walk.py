"""Walking a dataset folder: one rule for what a scan looks into.

Hidden entries (``.name``, macOS ``__MACOSX``) are skipped; folders linked in with
symbolic links are followed (datasets are often assembled from links to shared
storage), each real folder once, so a link back up the tree cannot loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path


def walk_folder(root: Path, onerror: Callable[[OSError], None] | None = None
                ) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``os.walk`` of ``root`` (top down, sorted, links followed once): yields (folder,
    subfolder names, file names); the caller may prune the subfolder list in place."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        yield Path(dirpath), dirnames, sorted(f for f in filenames if not f.startswith("."))
