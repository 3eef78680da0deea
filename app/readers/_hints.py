"""How an image asks to be shown: its modality and the window its file carries.

A DICOM series carries Window Center / Width (0028,1050 / 0028,1051), often several
pairs (the first is the one viewers open with) and its Modality; a NIfTI file may
carry a display range (``cal_min`` / ``cal_max``). Viewers such as 3D Slicer open an
image with its file's window first; ``app.preview`` does the same with these hints.
Only headers are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from app.errors import SegmapError
from app.jsonio import open_regular
from app.readers import _nifti as niio
from app.readers._formats import Format, volume_format


@dataclass(frozen=True)
class ImageHints:
    """``modality`` ("CT", "MR", ..., "" when unknown); ``window`` (centre, width) from the
    file, with ``window_name`` (the DICOM explanation, e.g. "WINDOW1"), or None."""

    modality: str = ""
    window: tuple[float, float] | None = None
    window_name: str = ""


def _first(value: Any) -> Any:
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        return value[0] if len(value) else None
    return value


def _number(value: Any) -> float | None:
    try:
        x = float(_first(value))
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _dicom_hints(path: Path) -> ImageHints:
    try:
        with open_regular(path, "DICOM file") as fh:  # a FIFO is refused, never waited on
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True, specific_tags=[
                "Modality", "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation",
                "RescaleSlope", "RescaleIntercept"])
    except (OSError, InvalidDicomError, ValueError, AttributeError, KeyError, SegmapError):
        return ImageHints()
    modality = str(ds.get("Modality", "") or "")
    centre, width = _number(ds.get("WindowCenter")), _number(ds.get("WindowWidth"))
    if centre is None or width is None or width <= 0:
        return ImageHints(modality)
    name = _first(ds.get("WindowCenterWidthExplanation"))
    return ImageHints(modality, (centre, width), str(name or ""))


def _nifti_hints(path: Path) -> ImageHints:
    try:
        header = niio.nifti_info(path).header
        lo, hi = float(header["cal_min"]), float(header["cal_max"])
    except (OSError, ValueError, KeyError, SegmapError):
        return ImageHints()
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return ImageHints()
    return ImageHints("", ((lo + hi) / 2, hi - lo), "cal_min..cal_max")


def image_hints(paths: Sequence[Path]) -> ImageHints:
    """The display hints of an image given as its item files (the first file's header).

    Never raises: an image whose header cannot be read has no hints.
    """
    if not paths:
        return ImageHints()
    first = Path(paths[0])
    kind = volume_format(first)
    if kind is Format.DICOM:
        return _dicom_hints(first)
    if kind is Format.NIFTI:
        return _nifti_hints(first)
    return ImageHints()
