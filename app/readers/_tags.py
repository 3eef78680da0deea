"""A few header values of a DICOM file, by keyword, as text (headers only).

What a task name pattern takes from a case's image (PatientID, StudyDate, ...). One
file's header is read with pydicom, ``stop_before_pixels`` and only the tags asked for;
a file that is no DICOM, or cannot be read, gives no values (never an exception).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.errors import InvalidDicomError

from app.errors import SegmapError
from app.jsonio import open_regular


def dicom_tags(path: str | os.PathLike[str], keywords: Sequence[str]) -> dict[str, str]:
    """The values of ``keywords`` (DICOM keywords such as ``"StudyDate"``) in the file at
    ``path``, as stripped text; a keyword the file does not carry, or carries empty, is
    left out. A multi-valued element is joined with ``\\``, as DICOM writes it."""
    tags = [t for k in keywords if (t := tag_for_keyword(k)) is not None]
    if not tags:
        return {}
    try:
        with open_regular(path, "DICOM file") as fh:  # a FIFO is refused, never waited on
            ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=tags,
                                 force=True)
    except (OSError, InvalidDicomError, ValueError, AttributeError, KeyError, SegmapError):
        return {}
    out: dict[str, str] = {}
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            continue
        if isinstance(value, pydicom.multival.MultiValue | list | tuple):
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        if text.strip():
            out[keyword] = text.strip()
    return out
