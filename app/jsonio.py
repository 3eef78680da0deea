"""JSON at the edges: reading with precise errors, writing (and linking) atomically."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.errors import JsonFileError, OutputError


def read_bytes_checked(path: Path, what: str = "file") -> bytes:
    """Read a whole file, turning OS errors into messages a user can act on."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise JsonFileError(f"{what} not found: {path}", "Check the path.") from None
    except IsADirectoryError:
        raise JsonFileError(
            f"{path} is a folder, but a {what} is expected here.", "Give the path of the file."
        ) from None
    except PermissionError:
        raise JsonFileError(
            f"Permission denied reading {path}.", "Check the file's permissions."
        ) from None
    except OSError as exc:
        raise JsonFileError(f"Cannot read {path}: {exc.strerror or exc}") from None


def load_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """Parse a JSON file; malformed JSON is reported with its line and column."""
    p = Path(path)
    data = read_bytes_checked(p, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonFileError(
            f"{p} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            "Save the file as UTF-8 JSON.",
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        raise JsonFileError(
            f"{p}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            + (f"\n    {line.strip()[:120]}" if line.strip() else ""),
            "Fix the JSON syntax there (a missing comma, quote or bracket is the usual cause).",
        ) from None


def output_error(target: Path, exc: OSError) -> OutputError:
    """A plain error for an output that cannot be written, naming the path and what to do."""
    blocker = next((p for p in target.parents if os.path.lexists(p) and not p.is_dir()), None)
    if blocker is not None:
        return OutputError(f"Cannot write {target}: {blocker} is a file, not a folder.",
                           "Choose another output path, or move that file out of the way.")
    if target.is_dir():
        return OutputError(f"Cannot write {target}: it is a folder.",
                           f"Give a file name, e.g. {target / 'items.json'}.")
    if isinstance(exc, PermissionError):
        return OutputError(f"Permission denied writing {target}.",
                           "Choose a folder you can write to.")
    if exc.errno == errno.ENOSPC:
        return OutputError(f"No space left on the disk to write {target}.",
                           "Free some space, or choose another disk.")
    if exc.errno == errno.EROFS:
        return OutputError(f"Cannot write {target}: the disk is read-only.",
                           "Choose a folder on a writable disk.")
    return OutputError(f"Cannot write {target}: {exc.strerror or exc}.",
                       "Choose another output path.")


def _free_name(target: Path) -> Iterator[Path]:
    """Names for a temporary file beside ``target`` (hidden, random, same suffix)."""
    suffix = "".join(target.suffixes[-2:]) or ".tmp"
    for _ in range(100):
        yield target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix}"
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _temporary_beside(target: Path) -> Path:
    """A new empty file beside ``target``, with the permissions any program gives a new file.

    ``tempfile.mkstemp`` creates files ``-rw-------`` whatever the umask, so an output
    renamed from it would be private; ``os.open`` with 0o666 lets the umask decide, as
    for a file the shell writes. A file being replaced keeps its own permissions.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for tmp in _free_name(target):
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            if target.is_file():
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        return tmp
    raise AssertionError("unreachable")  # pragma: no cover - _free_name raises first


def link_atomic(source: str | os.PathLike[str], path: str | os.PathLike[str], *,
                symbolic: bool = False) -> None:
    """Make ``path`` a hard link (or a symbolic one, to ``source``'s absolute path) to
    ``source``, replacing what is there in one step.

    ``OSError`` when the link cannot be made (another disk, a file system without
    links, a file the system protects from linking), so the caller can copy instead;
    ``OutputError`` when ``path`` cannot be written at all.
    """
    target, src = Path(path), Path(os.path.abspath(source))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(target, exc) from None
    for tmp in _free_name(target):
        try:
            if symbolic:
                os.symlink(src, tmp)
            else:
                os.link(src, tmp)
        except FileExistsError:
            continue
        try:
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise output_error(target, exc) from None
        return


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    A reader never sees a half-written file, and a failed write leaves the old
    file as it was. A new file's permissions follow the umask; a replaced file
    keeps its own. An OS error (a file where a folder must be, no permission, a
    full disk) becomes an ``OutputError`` that names ``path``.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _temporary_beside(target)
    except OSError as exc:
        raise output_error(target, exc) from None
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise output_error(target, exc) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Serialise like every Segmap output: UTF-8, non-ASCII kept, stable layout."""
    return json.dumps(obj, indent=indent, ensure_ascii=False) + ("\n" if indent else "")


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    write_bytes_atomic(path, dumps(obj, indent).encode("utf-8"))
