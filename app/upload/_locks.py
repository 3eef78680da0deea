"""Locks that keep two uploads apart, released however their upload ends.

A lock is an ``fcntl.flock`` on a small file in the user's state folder
(``$XDG_STATE_HOME/segmap/upload-locks``, else ``~/.local/state/segmap/upload-locks``;
the temporary folder if neither can be made), named by a hash of what it guards:
a destination and an items list (by its resolved path, and by its content, so a copy
of the list is the same list), or a journal file. The kernel drops a ``flock`` when
its process ends, a ``kill -9`` included, so no lock outlives its upload and none
has to be broken by hand. The file says which process holds it (its id, what it
guards, since when); it never holds the API key. It is removed on release.

Not beside the list: a read-only data folder must still be uploadable. On a system
without ``fcntl`` (Windows) nothing is locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class UploadLocked(InputError):
    """Another upload holds the lock."""


def lock_folder() -> Path:
    """Where upload locks are kept (the folder may not exist yet)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".local", "state")
    return Path(state) / "segmap" / "upload-locks"


def _folder() -> Path:
    candidates = [lock_folder()]
    if hasattr(os, "getuid"):  # a shared temporary folder: a folder of our own in it
        candidates.append(Path(tempfile.gettempdir()) / f"segmap-{os.getuid()}-upload-locks")
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not hasattr(os, "getuid") or folder.stat().st_uid == os.getuid():
                return folder
        except OSError:
            continue
    raise InputError(f"Cannot make a folder for upload locks ({lock_folder()}).",
                     "Make ~/.local/state writable, or set XDG_STATE_HOME to a writable folder.")


@dataclass
class Held:
    """A lock this process holds; ``release`` it (or end the process)."""

    path: Path
    fd: int | None

    def release(self) -> None:
        """Remove the lock file and drop the lock (unlinked first: no one locks a file
        that is about to go; one who opened it before sees it is gone and starts again)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(fd)


def _take(path: Path) -> int | None:
    """A descriptor of ``path`` locked by us; None when another process holds it."""
    for _ in range(20):  # the file can be removed between opening and locking it
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # released and removed by its holder meanwhile: take the new one
    raise InputError(f"Cannot take the upload lock {path}: it keeps changing.",
                     "Another Segmap is starting and stopping uploads; try again.")


def hold(key: list[str], what: str, label: str = "") -> Held:
    """Take the lock named by ``key``; ``UploadLocked`` ("Another upload of ``what`` is
    running") naming the lock file when another process holds it. ``label`` is written
    into the file, for a person who finds it."""
    name = hashlib.sha256("\0".join(key).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    path = _folder() / f"{name}.lock"
    if fcntl is None:  # pragma: no cover - Windows
        return Held(path, None)
    fd = _take(path)
    if fd is None:
        raise UploadLocked(f"Another upload of {what} is running (its lock is {path}).",
                           "Wait for it to finish, or stop it; its lock goes when it ends, "
                           "even if it is killed.")
    note = {"pid": os.getpid(), "what": what, "label": label,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(note, ensure_ascii=False) + "\n").encode("utf-8"))
    return Held(path, fd)


def hold_upload(destination: str, items_path: Path | str | None,
                tasks: list[dict[str, Any]]) -> list[Held]:
    """The locks of one upload: the ``destination`` with the list, by the list's resolved
    path and by its tasks' content (a copy of the list is the same list)."""
    content = json.dumps(tasks, sort_keys=True, ensure_ascii=False, default=str)
    keys = [["list-content", destination,
             hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()]]
    if items_path is not None:
        keys.insert(0, ["list-path", destination, str(Path(items_path).resolve())])
    label = f"{items_path or '(an items list)'} -> {destination}"
    held: list[Held] = []
    try:
        for key in keys:
            held.append(hold(key, "this items list to this project", label))
    except BaseException:
        for h in held:
            h.release()
        raise
    return held
