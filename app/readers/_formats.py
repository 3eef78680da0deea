"""Which format a file is in, by its name: the one list of volume suffixes.

Segmap reads NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr, Slicer's .seg.nrrd) and
DICOM (anything else is tried as DICOM). Which of these RedBrick accepts is a
RedBrick rule and lives in ``app.items``.
"""

from __future__ import annotations

import os
from enum import StrEnum


class Format(StrEnum):
    """The file formats Segmap reads volumes from."""

    NIFTI = "nifti"
    NRRD = "nrrd"
    DICOM = "dicom"


# Longest first: split_suffix strips the longest that matches.
NIFTI_SUFFIXES = (".nii.gz", ".nii")
NRRD_SUFFIXES = (".seg.nrrd", ".nrrd", ".nhdr")
VOLUME_SUFFIXES = NIFTI_SUFFIXES + NRRD_SUFFIXES
_SEPARATORS = os.sep + (os.altsep or "")


def volume_format(path: str | os.PathLike[str]) -> Format:
    """The format of a volume file by its name (anything not NIfTI or NRRD is DICOM)."""
    # the name without making a Path: asked for every mask of every case a table shows
    name = os.path.basename(os.fspath(path).rstrip(_SEPARATORS)).lower()
    if name.endswith(NIFTI_SUFFIXES):
        return Format.NIFTI
    if name.endswith(NRRD_SUFFIXES):
        return Format.NRRD
    return Format.DICOM


def is_volume_name(name: str) -> bool:
    """True for NIfTI and NRRD file names (DICOM files have no fixed suffix)."""
    return name.lower().endswith(VOLUME_SUFFIXES)


def split_suffix(name: str) -> tuple[str, str]:
    """(stem, suffix) of a file name: ``liver.nii.gz`` -> ``("liver", ".nii.gz")``."""
    low = name.lower()
    for suffix in VOLUME_SUFFIXES:
        if low.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix):]
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")
