"""Outputs Segmap wrote, and the inputs it must never write over.

RedBrick's items list is a JSON array of tasks: no key in it can say who wrote it
(the server may refuse a key it does not know). So beside each list it writes,
Segmap keeps a record, ``.NAME.segmap`` (hidden, not ``.json``: neither a scan nor
``redbrick upload DIR`` reads it), holding the SHA-256 of the bytes it wrote. A list
whose bytes still match its record is Segmap's own and is replaced without a word;
any other file there (a list curated by hand or by another program, or Segmap's list
edited since) is replaced only when the user says so (``--force``, or the wizard's
question, ``replace_question``). An output that is one of the inputs (the same file,
through a link or not) is refused whatever the user says: the input would be lost
while it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from app.errors import OutputError
from app.items import ItemsList, is_remote, iter_paths
from app.jsonio import write_bytes_atomic

RECORD_FORMAT = "segmap-output"
_RECORD_LIMIT = 4096  # bytes: a record is one short line


class ReplaceRefused(OutputError):
    """The output is a file Segmap did not write; it is replaced only when asked to."""


def record_path(path: str | os.PathLike[str]) -> Path:
    """Where the record of an output Segmap wrote is kept: ``.items.json.segmap`` beside it."""
    p = Path(path)
    return p.parent / f".{p.name}.segmap"


def _digest(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def record_output(path: str | os.PathLike[str], what: str = "items list") -> None:
    """Remember that Segmap wrote ``path`` as it is now (after writing it)."""
    p = Path(path)
    digest = _digest(p)
    if digest is not None:
        record = {"format": RECORD_FORMAT, "what": what, "sha256": digest}
        write_bytes_atomic(record_path(p), (json.dumps(record) + "\n").encode("ascii"))


def _recorded(path: Path) -> str | None:
    try:
        with open(record_path(path), "rb") as fh:
            record = json.loads(fh.read(_RECORD_LIMIT).decode("ascii"))
    except (OSError, ValueError):
        return None
    ok = isinstance(record, dict) and record.get("format") == RECORD_FORMAT
    return str(record.get("sha256")) if ok else None


def written_by_segmap(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds exactly what Segmap last wrote there."""
    p = Path(path)
    recorded = _recorded(p)
    return recorded is not None and recorded == _digest(p)


def replace_question(path: str | os.PathLike[str]) -> str | None:
    """What to ask before writing over ``path``, or None when nothing is lost: no file
    there (or a folder, which the write refuses itself), or a list Segmap wrote as it is."""
    p = Path(path).expanduser()
    if not p.is_file() or written_by_segmap(p):
        return None
    if _recorded(p) is not None:
        return (f"{p} was changed since Segmap wrote it (edited by hand, or by another "
                "program); replacing it loses those changes.")
    return (f"{p} exists and Segmap did not write it (a list curated by hand or by another "
            "program?); replacing it loses what it holds.")


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def list_inputs(items: ItemsList) -> list[Path]:
    """The files an items list is read from: the list itself and every local path it names."""
    found = [items.path] if items.path is not None else []
    found += [p for p in (items.resolve(r.path) for r in iter_paths(items)
                          if not is_remote(r.path)) if p is not None]
    return found


def guard_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None],
                 *, force: bool = False, flag: str = "--force") -> None:
    """Refuse to write ``path`` when it is one of ``inputs`` (the same file, links
    followed); refuse to replace a file Segmap did not write unless ``force``.

    ``OutputError`` for an input, ``ReplaceRefused`` for a file to ask about (its hint
    names ``flag``, the CLI's way to say yes). Nothing is read but the file's identity,
    and only when something is there.
    """
    target = Path(path).expanduser()
    me = _identity(target)
    if me is None:
        return  # nothing there: nothing lost
    for source in inputs:
        if source is not None and _identity(source) == me:
            raise OutputError(
                f"Cannot write {target}: it is an input of this command"
                + ("" if os.path.abspath(source) == os.path.abspath(target)
                   else f" ({source})") + ", and writing it would destroy what is read.",
                "Write the output to another file.")
    question = None if force else replace_question(target)
    if question is not None:
        raise ReplaceRefused(question, f"Write to another file, or pass {flag} to replace it.")
