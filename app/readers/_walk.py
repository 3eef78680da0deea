"""Walking a dataset folder: one rule for what a scan looks into.

Hidden entries (``.name``, macOS ``__MACOSX``) are skipped; folders linked in with
symbolic links are followed (datasets are often assembled from links to shared
storage), each real folder once, so a link back up the tree cannot loop. Only
regular files (or links to them) are listed: a named pipe would block the first
read of it forever, a device (a link to ``/dev/zero``) would never end, a socket or a
link to nothing holds no image. Those are handed to ``odd`` with what they are, so a
scan can say it left them out. The entry's type comes from the folder listing
itself, so telling a regular file costs no ``stat``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from app.jsonio import file_kind


def _kind(entry: os.DirEntry[str]) -> str:
    """What a listed entry that is neither a folder nor a regular file is, in words."""
    try:
        return file_kind(entry.stat().st_mode)
    except FileNotFoundError:
        return "a link to nothing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


def _listing(folder: Path, onerror: Callable[[OSError], None] | None,
             odd: Callable[[Path, str], None] | None) -> tuple[list[str], list[str]] | None:
    """(subfolder names, regular file names) of one folder, sorted; None when unreadable."""
    dirs, files = [], []
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        if onerror is not None:
            onerror(exc)
        return None
    for entry in sorted(entries, key=lambda e: e.name):
        name = entry.name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            is_dir = is_file = False
        if name.startswith("."):
            continue
        if is_dir:
            if name != "__MACOSX":
                dirs.append(name)
        elif is_file:
            files.append(name)
        elif odd is not None:
            odd(folder / name, _kind(entry))
    return dirs, files


def walk_folder(root: Path, onerror: Callable[[OSError], None] | None = None,
                odd: Callable[[Path, str], None] | None = None
                ) -> Iterator[tuple[Path, list[str], list[str]]]:
    """Like ``os.walk`` of ``root`` (top down, sorted, links followed once): yields (folder,
    subfolder names, regular file names); the caller may prune the subfolder list in place.
    Entries that are no regular file and no folder go to ``odd(path, what it is)``."""
    seen: set[str] = set()
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        listed = _listing(folder, onerror, odd)
        if listed is None:
            continue
        dirnames, filenames = listed
        yield folder, dirnames, filenames
        stack.extend(folder / d for d in reversed(dirnames))
