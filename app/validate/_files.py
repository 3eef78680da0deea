"""File checks for validation: can RedBrick read this mask, and what does it hold?

Each file is censused once per (path, size, modification time) and remembered in
a ``FileCache``; a run over hundreds of cases, or the wizard validating again after
a mapping change, reads each mask once. A file's fault is classified into a
finding code (see ``app.validate``) with a message a user can act on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import VolumeReadError
from app.geometry import Grid, Relation
from app.items import gzip_name_fault, mask_accepted, mask_converted
from app.jsonio import file_kind
from app.merge import sdk_label
from app.readers import (
    Census,
    NiftiInfo,
    census,
    image_grid,
    is_dicom_seg,
    nifti_info,
    value_text,
)
from app.validate._codes import Code
from app.validate._dicom_seg import check_seg
from app.validate._images import ImageCheck, check_image_files


@dataclass(frozen=True)
class FileCheck:
    """What reading one mask file found: its census, or why it cannot be used.

    ``code``/``message`` describe a fault that stops RedBrick using the file;
    ``census`` is None then, except for ``gzip-name-mismatch`` (Segmap can read
    the file, RedBrick cannot), where the values are still known.
    """

    path: str
    census: Census | None
    code: Code | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """True when RedBrick can read the file as a 3-D mask."""
        return self.code is None and self.census is not None

    @property
    def grid(self) -> Grid | None:
        """The file's world grid, when it has been read."""
        c = self.census
        return Grid.of(c.shape, c.affine) if c is not None and len(c.shape) == 3 else None


def sdk_values(c: Census) -> dict[int, int]:
    """Non-zero label values as RedBrick stores them, with voxel counts.

    The SDK rounds non-integer data half to even and casts to uint16, so
    negative values and values above 65535 wrap (-1 becomes 65535).
    """
    out: dict[int, int] = {}
    for v, n in c.values.items():
        if v == 0 or not np.isfinite(v):
            continue
        stored = sdk_label(v)
        if stored:
            out[stored] = out.get(stored, 0) + n
    return out


class FileCache:
    """Censuses and image grids remembered across series and validation runs.

    ``keep_runs``: a label map's census keeps its runs (``app.readers.RUNS``) for the
    series' overlap check, then for a merge later in this process (an upload's, the
    wizard's); else they are dropped once the series is checked (``SeriesChecker``), or a
    validation would hold up to the runs' budget (768 MB) of what it read."""

    def __init__(self, keep_runs: bool = True) -> None:
        self.keep_runs = keep_runs
        self._files: dict[tuple[str, int, int], FileCheck] = {}
        self._grids: dict[tuple[tuple[str, int, int], ...], Grid | VolumeReadError] = {}
        self._images: dict[tuple[object, ...], ImageCheck] = {}

    @staticmethod
    def _key(path: str) -> tuple[str, int, int]:
        st = os.stat(path)
        return (os.path.abspath(path), st.st_mtime_ns, st.st_size)

    def check(self, path: str, runs: bool = True) -> FileCheck:
        """Check one local mask file (the census is cached); ``runs``: whether a census made
        now keeps the file's runs (a merge will read it: the series' overlap check, or one
        later in this process)."""
        fault = access_fault(path)
        if fault is not None:
            return FileCheck(path, None, *fault)
        key = self._key(path)
        if key not in self._files:
            if mask_converted(path):
                self._files[key] = _check_nrrd(path)
            elif not mask_accepted(path) and is_dicom_seg(path):
                self._files[key] = FileCheck(path, *check_seg(path))
            else:
                self._files[key] = _check_nifti(path, runs)
        found = self._files[key]
        return found if found.path == path else FileCheck(path, found.census, found.code,
                                                          found.message)

    def remember(self, path: str, census: Census) -> None:
        """Keep a census made elsewhere (a scan), so the file is not read again."""
        self._files[self._key(path)] = FileCheck(path, census, None, None)

    def image_check(self, paths: Sequence[Path], items_path: Path | None) -> ImageCheck:
        """``check_image_files``, cached: can RedBrick show this image, and its grid."""
        key = (*(self._key(str(p)) for p in paths), str(items_path))
        if key not in self._images:
            self._images[key] = check_image_files(paths, items_path)
        return self._images[key]

    def image_grid(self, paths: Sequence[Path]) -> Grid:
        """``app.readers.image_grid``, cached; raises VolumeReadError as it does."""
        key = tuple(self._key(str(p)) for p in paths)
        if key not in self._grids:
            try:
                self._grids[key] = image_grid(list(paths))
            except VolumeReadError as exc:
                self._grids[key] = exc
        got = self._grids[key]
        if isinstance(got, VolumeReadError):
            raise got
        return got


def access_fault(path: str, nifti: bool = True) -> tuple[Code, str] | None:
    """(code, message) when ``path`` is missing, a folder, unreadable or (``nifti``) not a
    mask RedBrick can read or Segmap can convert; None when it can be opened."""
    name = os.path.basename(path)
    if not os.path.lexists(path):
        return Code.FILE_MISSING, (
            f"{path} does not exist. RedBrick then looks for it in its label storage and the "
            "task fails with 'Invalid label files'. Check the path (relative paths start at "
            "the items list's folder).")
    if not os.path.exists(path):
        return Code.FILE_MISSING, (f"{path} is a broken link (its target does not exist). "
                                   "Point it at the real file.")
    if os.path.isdir(path):
        return Code.FILE_UNREADABLE, (f"{path} is a folder, but a mask file is expected here. "
                                      "Give the path of the .nii.gz file itself.")
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):  # a FIFO would block the read, a device never end it
        return Code.FILE_UNREADABLE, (f"{path} is {file_kind(mode)}, but a mask file is "
                                      "expected here. Give the path of the .nii.gz file itself.")
    if not os.access(path, os.R_OK):
        return Code.FILE_UNREADABLE, (f"Permission denied reading {path}. Give yourself read "
                                      "access to the file (or run as a user who has it).")
    if nifti and not (mask_accepted(path) or mask_converted(path) or is_dicom_seg(path)):
        return Code.NOT_NIFTI, (
            f"{name} is not a NIfTI file (.nii or .nii.gz); RedBrick fails with "
            "'Invalid mask type'. Convert the mask to NIfTI first (MHA needs converting; "
            "Segmap converts NRRD and reads DICOM SEG as RedBrick's CLI converts it).")
    return None


_NOT_A_FILE = (" is a named pipe", " is a character device", " is a block device",
               " is a socket", " is a folder")


def _classify(exc: VolumeReadError) -> Code:
    text = exc.message.lower()
    if "permission" in text or "cannot open" in text or any(k in text for k in _NOT_A_FILE):
        return Code.FILE_UNREADABLE
    if "broken nifti header" in text or "header is broken" in text:
        return Code.MASK_HEADER_BROKEN
    if "gzip" in text or "truncated" in text or "compressed" in text:
        return Code.FILE_CORRUPT
    return Code.NOT_NIFTI


def _read_fault(path: str, exc: VolumeReadError) -> FileCheck:
    code = _classify(exc)
    then = {
        Code.FILE_CORRUPT: "RedBrick's upload of this task fails on it. Export or copy the file "
                        "again.",
        Code.MASK_HEADER_BROKEN: "RedBrick's upload reads such a mask wrongly or not at all. "
                                 "Save it again from the program that made it.",
        Code.NOT_NIFTI: "RedBrick fails with 'Invalid mask type'. Save the mask as NIfTI "
                     "(.nii.gz).",
        Code.FILE_UNREADABLE: exc.hint or "Check the file's permissions.",
    }[code]
    return FileCheck(path, None, code, f"{exc.message} {then}")


def _check_nifti(path: str, keep_runs: bool) -> FileCheck:
    try:
        info = nifti_info(path)
    except VolumeReadError as exc:
        return _read_fault(path, exc)
    name = os.path.basename(path)
    if len(info.shape) != 3:
        shape = "x".join(map(str, info.shape))
        return FileCheck(path, None, Code.MASK_DIMENSIONS, (
            f"{name} has {len(info.shape)} dimensions ({shape}); RedBrick needs a 3-D volume "
            f"and fails with 'Invalid mask shape'. Save it as a 3-D volume"
            + (" (drop the singleton 4th dimension)." if len(info.shape) == 4
               and info.shape[3] == 1 else ".")))
    try:
        c = census(path, info, keep_runs=keep_runs)
    except VolumeReadError as exc:
        return _read_fault(path, exc)
    scaled = _scaled_fault(name, info, c)
    if scaled is not None:
        return FileCheck(path, None, Code.MASK_SCALED, scaled)
    fault = gzip_name_fault(name, info.gzipped)
    if fault is not None:
        what = fault[0]
        return FileCheck(path, c, Code.GZIP_NAME_MISMATCH, (
            f"{name} {what}; RedBrick opens files by their name and fails on it "
            f"('{'is not a gzip file' if not info.gzipped else 'Cannot work out file type'}'). "
            "Rename it to match its content (.nii.gz when compressed, .nii otherwise)."))
    return FileCheck(path, c)


def _scaled_fault(name: str, info: NiftiInfo, c: Census) -> str | None:
    """Why a uint8/uint16 mask's scl_slope/scl_inter make RedBrick's merge fail (its labels
    become fractions, or leave 0..65535), or None. Other types are rounded as the SDK does
    (``values-non-integer`` says so)."""
    if not info.scaled or info.dtype.kind != "u" or info.dtype.itemsize > 2:
        return None
    values = [v for v in c.values if np.isfinite(v)]
    if all(float(v).is_integer() and 0 <= v <= 65535 for v in values):
        return None
    return (f"{name} stores {info.dtype.name} labels with scl_slope {info.slope:g} and "
            f"scl_inter {info.inter or 0:g}, which turn them into fractions or out of 0..65535 "
            f"({', '.join(value_text(v) for v in sorted(values)[:4])}). RedBrick's merge cannot "
            "use such a mask and the task is not uploaded. Save the mask with scl_slope 1 and "
            "scl_inter 0 (plain integer labels).")


def _check_nrrd(path: str) -> FileCheck:
    """An NRRD mask, checked as the NIfTI Segmap converts it to."""
    try:
        c = census(path)
    except VolumeReadError as exc:
        if "volumes" in exc.message:  # a Slicer .seg.nrrd with several layers, a 4-D file
            return FileCheck(path, None, Code.MASK_DIMENSIONS, (
                f"{exc.message} A RedBrick mask is one 3-D label map, so Segmap cannot convert "
                "it. Export one labelmap volume per file from Slicer (Segmentations > Export to "
                "files, as a labelmap)."))
        return FileCheck(path, None, Code.FILE_CORRUPT, (
            f"{exc.message} Segmap cannot read it to convert it to NIfTI for RedBrick. Save it "
            "again from Slicer or ITK, or as NIfTI (.nii.gz)."))
    return FileCheck(path, c)


_RELATION_CODES = {Relation.REORIENTED: Code.GRID_REORIENTED, Relation.CROP: Code.GRID_CROP,
                   Relation.RESOLUTION: Code.GRID_RESOLUTION, Relation.SHIFTED: Code.GRID_SHIFTED,
                   Relation.TRANSPOSED: Code.GRID_TRANSPOSED,
                   Relation.FLIPPED: Code.GRID_FLIPPED}


def relation_code(relation: Relation) -> Code:
    """The finding code for a geometry relation other than SAME."""
    return _RELATION_CODES.get(relation, Code.GRID_MISMATCH)
