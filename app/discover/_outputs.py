"""Segmap's own outputs in a scanned folder: recognised, left out of the scan, and said so.

Segmap writes into the folder it scans when asked to (``segmap build -o DIR/items.json``,
``segmap merge -o DIR/merged.nii.gz``, an export beside the data). The next scan must
not take those files for new data (a merged volume came back as a new case):

* ``nifti-masks/`` (NRRD masks written as NIfTI by ``app.export``) and ``dicom-renamed/``
  (DICOM files under .dcm names) beside an items list, or whose every file mirrors a
  source file beside the folder, as ``app.export`` names them (``app.items`` holds the
  folder names);
* a NIfTI file whose header carries Segmap's mark (``app.readers.save_nifti``: a merged
  label volume), read with the header at no cost;
* JSON that names itself Segmap's (``"format"``): mapping templates, wizard sessions;
* upload journals (``*.upload-journal.jsonl`` opening with Segmap's header line).

Items lists are RedBrick's format, not Segmap's alone: they stay what they were, label
tables whose categories become suggestions, never cases.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.discover._sidecars import is_items_list
from app.errors import InputError
from app.items import CONVERTED_FOLDER, OUTSIDE_FOLDER, RENAMED_FOLDER
from app.jsonio import open_regular
from app.readers import NRRD_SUFFIXES, split_suffix

JOURNAL_SUFFIX = ".upload-journal.jsonl"  # app.upload.journal_path
_JOURNAL_HEADER = "segmap-upload"  # app.upload's journal header line
_FORMATS = {"segmap-mapping-template": "a mapping template",
            "segmap-session": "a saved wizard session (autosave)"}
_MAX_JSON = 20 << 20  # larger JSON files are not Segmap's small ones


@dataclass(frozen=True)
class OwnOutput:
    """A file or folder the scan left out as Segmap's own output."""

    file: str  # relative to the scanned folder (a folder ends in /)
    what: str

    @property
    def note(self) -> str:
        """``left out nifti-masks/: Segmap's own output (...)``: the scan's note."""
        return f"left out {self.file}: Segmap's own output ({self.what})"

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "what": self.what}


# Segmap's folders beside a list it writes: what they hold, and the source names a file
# in them stands for (``nifti-masks/a/x.nii.gz`` for ``a/x.nrrd``).
_FOLDERS = {CONVERTED_FOLDER: "NRRD mask(s) written as NIfTI",
            RENAMED_FOLDER: "DICOM file(s) under .dcm names"}


def _sources(folder_name: str, name: str) -> list[str]:
    if folder_name == CONVERTED_FOLDER:
        stem, suffix = split_suffix(name)
        return [stem + s for s in NRRD_SUFFIXES] if suffix.lower() == ".nii.gz" else []
    return [name[:-4]] if name.lower().endswith(".dcm") else []


def converted_folder(folder: Path) -> str | None:
    """What a ``nifti-masks/`` or ``dicom-renamed/`` folder holds when Segmap wrote it,
    else None."""
    kind = folder.name.lower()
    if kind not in _FOLDERS:
        return None
    try:
        beside = sorted(p for p in folder.parent.iterdir()
                        if p.suffix.lower() == ".json" and p.is_file())
        files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return None
    lists = [p.name for p in beside if is_items_list(_json(p))]
    if lists:
        return f"{len(files)} {_FOLDERS[kind]} for {', '.join(lists[:3])}"
    if files and all(_mirrors(p, folder, kind) for p in files):
        return f"{len(files)} {_FOLDERS[kind]} for an items list"
    return None


def _mirrors(path: Path, folder: Path, kind: str) -> bool:
    """True for ``nifti-masks/a/b/x.nii.gz`` beside ``a/b/x.nrrd``, ``dicom-renamed/a/X.dcm``
    beside ``a/X`` (app.export's naming)."""
    rel = path.relative_to(folder)
    names = _sources(kind, path.name)
    if not names:
        return False
    if rel.parts[0] == OUTSIDE_FOLDER:
        return True
    source = folder.parent / rel.parent
    return any((source / n).is_file() for n in names)


def output_file(path: Path) -> str | None:
    """What a JSON or journal file is when Segmap wrote it, else None."""
    low = path.name.lower()
    if low.endswith(JOURNAL_SUFFIX):
        try:
            with open_regular(path, "upload journal") as fh:  # a FIFO is never waited on
                first = fh.readline(4096)
        except (OSError, InputError):
            return None
        return "an upload journal" if _JOURNAL_HEADER.encode() in first else None
    if low.endswith(".json"):
        obj = _json(path)
        if isinstance(obj, dict) and isinstance(obj.get("format"), str):
            return _FORMATS.get(obj["format"])
    return None


def _json(path: Path) -> Any:
    try:
        with open_regular(path, "JSON file") as fh:
            if os.fstat(fh.fileno()).st_size > _MAX_JSON:
                return None
            return json.loads(fh.read().decode("utf-8-sig", errors="replace"))
    except (OSError, ValueError, InputError):
        return None
