"""DICOM files RedBrick refuses by their name: uploaded, or exported, under a ``.dcm`` name.

RedBrick's SDK judges a file by its extension (``redbrick.utils.files.get_file_type``,
``app.items.file_type``). PACS exports name DICOM files by their UIDs, without
``.dcm`` (TotalSegmentator's ``CT.1.3.12.2.1107.5.1.4.60064.300000221208...``), so the
SDK reads ``.300000221208...`` as the extension and refuses the file ('Unsupported
file type'), though it is DICOM. The same name with ``.dcm`` appended is accepted as
``application/dicom``; a name without any dot is accepted as it is.

``needs_dcm_name`` says which files these are (by name and the DICOM preamble).
Segmap's upload sends them under ``dcm_name``; ``rename_dicom`` (export and build,
on request) puts a hard link, a symbolic link or a copy under that name into
``dicom-renamed/`` beside the list and points the list at it, so ``redbrick upload``
takes the list as it is. The user's files are never touched.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydicom.misc import is_dicom

from app.errors import OutputError
from app.export._convert import mirrored, repoint, used_files
from app.items import (
    RENAMED_FOLDER,
    ItemsList,
    PathRole,
    is_remote,
    iter_paths,
    uploadable,
)
from app.jsonio import atomic_path, link_atomic

DCM_SUFFIX = ".dcm"
_IMAGE_ROLES = (PathRole.ITEM, PathRole.HEAT_MAP)


def needs_dcm_name(path: str | os.PathLike[str]) -> bool:
    """True for a DICOM file RedBrick refuses only for its name (``CT.1.3.6.1...300000``):
    an extension RedBrick does not upload, and a DICOM preamble inside. Reads 132 bytes."""
    if uploadable(os.path.basename(os.fspath(path))):
        return False
    try:
        return bool(is_dicom(Path(path)))
    except OSError:  # missing or unreadable: validation says so, not this
        return False


def dcm_name(name: str) -> str:
    """The name RedBrick accepts for such a file: ``CT.1.3...300000`` -> ``CT.1.3...300000.dcm``."""
    return name + DCM_SUFFIX


def upload_name(path: str | os.PathLike[str]) -> str:
    """The name a local image goes up to RedBrick under: its own, or with ``.dcm`` added."""
    name = os.path.basename(os.fspath(path))
    return dcm_name(name) if needs_dcm_name(path) else name


class LinkMode(StrEnum):
    """How ``rename_dicom`` puts a file under its ``.dcm`` name."""

    HARDLINK = "link"  # a hard link (no space used); a copy where links cannot be made
    SYMLINK = "symlink"  # a symbolic link to the file; a copy where links cannot be made
    COPY = "copy"  # a copy (the output folder holds the data on its own)


@dataclass(frozen=True)
class Renamed:
    """One DICOM file and the ``.dcm`` name it is written under; ``how`` it was written
    (``hard link``, ``symbolic link`` or ``copy``), and whether this run wrote it."""

    source: Path
    target: Path
    how: str = ""
    written: bool = False

    def to_json(self) -> dict[str, object]:
        return {"source": str(self.source), "target": str(self.target), "how": self.how,
                "written": self.written}


def _dicom_images(items: ItemsList) -> dict[Path, Path]:
    """The local images of the list that need a ``.dcm`` name: the file (links resolved, so
    one file named twice is renamed once) -> the path the list names it by."""
    found: dict[Path, Path] = {}
    checked: set[Path] = set()
    for ref in iter_paths(items):
        if ref.role not in _IMAGE_ROLES or is_remote(ref.path):
            continue
        local = items.resolve(ref.path)
        if local is None:
            continue
        # Lexically: a list rebased onto a folder not made yet names its files through it.
        local = Path(os.path.normpath(local))
        if local in checked:
            continue
        checked.add(local)
        if needs_dcm_name(local):
            found.setdefault(local.resolve(), Path(os.path.abspath(local)))
    return found


def dicom_to_rename(items: ItemsList) -> list[Path]:
    """The local image files of ``items`` RedBrick refuses for their name alone (DICOM
    files without ``.dcm``), in the order the list names them; [] when there are none."""
    return list(_dicom_images(items).values())


def plan_renames(items: ItemsList, folder: Path, mirror: Path | None = None) -> list[Renamed]:
    """The ``.dcm`` names ``rename_dicom`` would write, without writing anything.

    A file keeps its folder's path relative to ``mirror`` (default: the list's folder)
    under ``folder``; an error when a name is a file the list itself uses.
    """
    base = mirror if mirror is not None else items.base_dir
    plan = [Renamed(src, mirrored(named, base, folder, dcm_name(named.name)))
            for src, named in sorted(_dicom_images(items).items())]
    used = used_files(items)
    for r in plan:  # the name itself, not what it links to (an earlier symbolic .dcm name)
        if r.target.parent.resolve() / r.target.name in used:
            raise OutputError(
                f"Cannot write {r.source.name} under a .dcm name: {r.target} is a file the "
                "items list uses.", "Write the items list to another folder (the renamed "
                f"files go into {RENAMED_FOLDER}/ beside it).")
    return plan


def _in_place(source: Path, target: Path, mode: LinkMode) -> str | None:
    """How ``target`` already holds ``source`` as ``mode`` asks, or None."""
    if not os.path.lexists(target):
        return None
    try:
        same = os.path.samefile(source, target)
        if mode is LinkMode.SYMLINK:
            return "symbolic link" if target.is_symlink() and same else None
        if mode is LinkMode.HARDLINK:
            return "hard link" if same and not target.is_symlink() else None
        return "copy" if not same and not target.is_symlink() and \
            filecmp.cmp(source, target, shallow=False) else None
    except OSError:
        return None


def _put(source: Path, target: Path, mode: LinkMode) -> str:
    """Write ``target`` as ``mode`` asks (a link where it can be made, else a copy)."""
    if mode is not LinkMode.COPY:
        try:
            link_atomic(source, target, symbolic=mode is LinkMode.SYMLINK)
            return "symbolic link" if mode is LinkMode.SYMLINK else "hard link"
        except OutputError:
            raise
        except OSError:
            pass  # another disk, no links on this file system, a protected file: copy
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return "copy"


def rename_dicom(items: ItemsList, folder: Path, mode: LinkMode = LinkMode.HARDLINK,
                 write: bool = True, mirror: Path | None = None
                 ) -> tuple[ItemsList, list[Renamed]]:
    """A copy of ``items`` whose DICOM files without ``.dcm`` point at ``.dcm`` names in
    ``folder`` (hard links, symbolic links or copies, as ``mode`` asks).

    Paths to them are written relative to the list's folder (absolute where the list
    had an absolute path). A name already holding the file as asked is left as it is.
    With ``write`` False nothing is written and ``items`` itself is returned.
    """
    plan = plan_renames(items, folder, mirror)
    if not plan or not write:
        return items, plan
    done = []
    for r in plan:
        how = _in_place(r.source, r.target, mode)
        done.append(Renamed(r.source, r.target, how, False) if how else
                    Renamed(r.source, r.target, _put(r.source, r.target, mode), True))
    return repoint(items, {r.source: r.target for r in done}, _IMAGE_ROLES), done


def renamed_text(renamed: list[Renamed] | tuple[Renamed, ...], folder: Path) -> str:
    """``Wrote 20 DICOM file(s) under .dcm names in OUT/dicom-renamed (20 hard links) ...``
    (empty when there are none)."""
    if not renamed:
        return ""
    kinds: dict[str, int] = {}
    for r in renamed:
        kinds[r.how] = kinds.get(r.how, 0) + 1
    plural = {"copy": "copies"}
    what = ", ".join(f"{n} {how if n == 1 else plural.get(how, how + 's')}"
                     for how, n in sorted(kinds.items()))
    kept = sum(not r.written for r in renamed)
    verb = "Kept" if kept == len(renamed) else "Wrote"
    again = f"; {kept} already there" if 0 < kept < len(renamed) else ""
    return (f"{verb} {len(renamed)} DICOM file(s) under .dcm names in {folder} ({what}{again}): "
            "RedBrick refuses their own names; the items list points at these.")
