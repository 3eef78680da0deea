"""Files at the edges: reading only regular files, JSON with precise errors, writing (and
linking) atomically.

Every file a user names or a scan finds is opened through ``regular_file``/``open_regular``
first: a FIFO would block the read forever, ``/dev/zero`` would fill memory, a socket or
a device is no image. They are refused with a sentence that says what the path is.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from app.errors import InputError, JsonFileError, OutputError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "an items list", "a mask file"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def file_kind(mode: int) -> str:
    """What a ``st_mode`` names, in words: "a regular file", "a named pipe (FIFO)", ..."""
    return next((words for test, words in _KINDS if test(mode)), "a regular file"
                if stat.S_ISREG(mode) else "not a regular file")


def regular_file(path: str | os.PathLike[str], what: str = "file",
                 error: type[InputError] = InputError) -> os.stat_result:
    """The ``stat`` of ``path`` (links followed) when it is a regular file; else ``error``
    saying what the path is (missing, a folder, a FIFO, a device, a socket)."""
    p = path if isinstance(path, Path) else Path(path)  # (a Path made again costs 5 us)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        hint = "The link points to nothing." if os.path.islink(p) else "Check the path."
        raise error(f"{what} not found: {p}", hint) from None
    except PermissionError:
        raise error(f"Permission denied reading {p}.", "Check the file's permissions.") from None
    except (OSError, ValueError) as exc:
        raise error(f"Cannot read {p}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode)
        hint = ("Give the path of the file." if stat.S_ISDIR(st.st_mode)
                else "Segmap reads only regular files; give the path of the file itself.")
        raise error(f"{p} is {kind}, but {_a(what)} is expected here.", hint)
    return st


def open_regular(path: str | os.PathLike[str], what: str = "file",
                 error: type[InputError] = InputError) -> BinaryIO:
    """Open ``path`` for binary reading, only if it is a regular file.

    The file is opened non-blocking and checked again on the open descriptor, so a
    FIFO swapped in after the check cannot block the read either.
    """
    regular_file(path, what, error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{what} not found: {path}", "Check the path.") from None
    except PermissionError:
        raise error(f"Permission denied reading {path}.", "Check the file's permissions.") from None
    except OSError as exc:
        raise error(f"Cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise error(f"{path} is {file_kind(st.st_mode)}, but {_a(what)} is expected here.",
                    "Segmap reads only regular files; give the path of the file itself.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes_checked(path: Path, what: str = "file", limit: int | None = None) -> bytes:
    """Read a whole regular file, turning OS errors into messages a user can act on;
    a file over ``limit`` bytes is refused before it is read."""
    with open_regular(path, what, JsonFileError) as fh:
        size = os.fstat(fh.fileno()).st_size
        if limit is not None and size > limit:
            raise JsonFileError(
                f"{path} is {size / 1e6:,.0f} MB, too large for {_a(what)} "
                f"(at most {limit / 1e6:,.0f} MB).", "Check that this is the right file.")
        try:
            return fh.read()
        except OSError as exc:
            raise JsonFileError(f"Cannot read {path}: {exc.strerror or exc}") from None


JSON_LIMIT = 1 << 30  # 1 GB: an items list of 10,000 tasks is about 10 MB
MAX_DEPTH = 64  # no Segmap or RedBrick file nests deeper than a few levels


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a number")
    return value


def _depth(obj: Any) -> int:
    """How deeply ``obj`` nests (iteratively: a deep document must not exhaust the stack)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((v, level + 1) for v in (node.values() if isinstance(node, dict)
                                                      else node))
    return deepest


def _lone_surrogate(obj: Any) -> str | None:
    """The first string in ``obj`` that UTF-8 cannot carry (a lone surrogate), if any."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return node
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return None


def printable(text: str) -> str:
    """``text`` with what a terminal would act on shown escaped: control characters
    (ESC, BEL, CR, ...) as ``\\x1b``-style escapes, strings UTF-8 cannot carry (a non-UTF-8
    file name) as ``\\udcff``. Printing a crafted name then cannot clear the screen,
    set the title or fake a line."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 and ch not in "\n\t" or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code < 0xE000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def load_json(path: str | os.PathLike[str], what: str = "JSON file") -> Any:
    """Parse a JSON file; malformed JSON is reported with its line and column.

    Only regular files are read (a FIFO or ``/dev/zero`` is refused by what it is);
    ``NaN``, ``Infinity`` and numbers too large for a float are refused, not read as
    infinities; nesting deeper than any Segmap or RedBrick file is refused, not
    recursed into; strings UTF-8 cannot carry (lone surrogates) are refused.
    """
    p = Path(path)
    data = read_bytes_checked(p, what, JSON_LIMIT)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonFileError(
            f"{p} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            "Save the file as UTF-8 JSON.",
        ) from None
    try:
        obj = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        raise JsonFileError(
            f"{p}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
            + (f"\n    {printable(line.strip()[:120])}" if line.strip() else ""),
            "Fix the JSON syntax there (a missing comma, quote or bracket is the usual cause).",
        ) from None
    except ValueError as exc:
        raise JsonFileError(f"{p} is not plain JSON: {exc}.",
                            "Write numbers as plain decimals (no NaN or Infinity).") from None
    except RecursionError:
        raise JsonFileError(f"{p} nests its lists and objects too deeply to be {_a(what)}.",
                            "Check that this is the right file.") from None
    if _depth(obj) > MAX_DEPTH:
        raise JsonFileError(
            f"{p} nests its lists and objects more than {MAX_DEPTH} levels deep; "
            f"no {what} does.", "Check that this is the right file.")
    bad = _lone_surrogate(obj)
    if bad is not None:
        raise JsonFileError(f"{p} holds a string UTF-8 cannot carry: {printable(bad)[:120]}.",
                            "Save the file as UTF-8 JSON (a \\ud800-style escape of half a "
                            "character is the usual cause).")
    return obj


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


_STALE_AFTER_S = 5.0  # a temporary file this old and unlocked was left by a killed run


def _temporary_pattern(target: Path) -> tuple[str, re.Pattern[str]]:
    suffix = "".join(target.suffixes[-2:]) or ".tmp"
    return suffix, re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{8}}{re.escape(suffix)}")


def _free_name(target: Path) -> Iterator[Path]:
    """Names for a temporary file beside ``target`` (hidden, random, same suffix)."""
    suffix, _ = _temporary_pattern(target)
    for _ in range(100):
        yield target.parent / f".{target.name}.{secrets.token_hex(4)}{suffix}"
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another holds it."""
    if fcntl is None:  # pragma: no cover - Windows: no advisory locks, age alone decides
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def sweep_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files a killed run left beside ``target`` (Segmap's own
    naming only: ``.<name>.<8 hex><suffix>``), and return them.

    A temporary file in use is locked by the writer, so only files that are unlocked
    and a few seconds old are taken: another Segmap writing the same output is left alone.
    """
    t = Path(target)
    _, pattern = _temporary_pattern(t)
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(t.parent) if pattern.fullmatch(n)]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        tmp = t.parent / name
        try:
            st = os.lstat(tmp)
            if now - st.st_mtime < _STALE_AFTER_S:
                continue
            if stat.S_ISLNK(st.st_mode):
                tmp.unlink()
            elif stat.S_ISREG(st.st_mode):
                fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
                try:
                    if not _lock(fd):
                        continue
                    tmp.unlink()
                finally:
                    os.close(fd)
            else:
                continue
        except OSError:
            continue
        removed.append(tmp)
    return removed


def _temporary_beside(target: Path) -> tuple[Path, int]:
    """A new empty file beside ``target``, locked while it is written (its descriptor is
    returned, to close after the rename), with the permissions any program gives a new file.

    ``tempfile.mkstemp`` creates files ``-rw-------`` whatever the umask, so an output
    renamed from it would be private; ``os.open`` with 0o666 lets the umask decide, as
    for a file the shell writes. A file being replaced keeps its own permissions.
    """
    sweep_stale_temporaries(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for tmp in _free_name(target):
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        _lock(fd)
        try:
            if target.is_file():
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return tmp, fd
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
    sweep_stale_temporaries(target)
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
        tmp_path, lock_fd = _temporary_beside(target)
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
    finally:
        os.close(lock_fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Serialise like every Segmap output: UTF-8, non-ASCII kept, stable layout.

    ``OutputError`` for what JSON cannot hold: NaN or an infinity (``json`` would write
    ``NaN``, which no JSON reader accepts), a string UTF-8 cannot carry (a non-UTF-8 file
    name, read through the file system's escapes), or nesting too deep to write.
    """
    try:
        text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise OutputError(f"Cannot write a value into JSON: {exc} (NaN or an infinity).",
                          "This comes from a broken header; check the file it came from.") from None
    except RecursionError:
        raise OutputError("Cannot write this JSON: it nests too deeply.") from None
    try:
        text.encode("utf-8")  # one pass in C; the walk below only names the culprit
    except UnicodeEncodeError:
        bad = _lone_surrogate(obj)
        raise OutputError(
            f"Cannot write {printable(bad or text)[:200]} into JSON: the name is not valid "
            "UTF-8.", "Rename the file with a UTF-8 name (RedBrick reads items lists as UTF-8).",
        ) from None
    return text + ("\n" if indent else "")


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    write_bytes_atomic(path, dumps(obj, indent).encode("utf-8"))
