"""One DICOM series as Segmap sees it: its files in slice order, its world grid, its warnings."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.geometry import Grid

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
SR_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
# Objects with pixels that are not images to segment (dose grids, plans, documents, ...).
NON_IMAGE_MODALITIES = frozenset(
    ("RTDOSE", "RTPLAN", "RTRECORD", "RTIMAGE", "PR", "REG", "RWV", "DOC", "ECG", "KO",
     "PLAN", "FID", "AU", "HD", "RAW"))


class ObjectKind(StrEnum):
    """What a DICOM series holds."""

    IMAGE = "image"  # a volume to segment
    LOCALIZER = "localizer"  # a scout image for planning other scans
    SEG = "SEG"  # a DICOM Segmentation
    RTSTRUCT = "RTSTRUCT"  # an RT Structure Set (contours)
    SR = "SR"  # a structured report
    OTHER = "other"  # anything else (dose grids, plans, documents, no pixels)


@dataclass(frozen=True)
class DicomSeries:
    """A DICOM series found by a scan.

    ``files`` are sorted along the slice normal (one file per slice of the
    volume; a multi-frame file or a mosaic is the one file). ``frames`` gives
    the frame indices in slice order for a multi-frame file (empty otherwise).
    ``grid`` is the world grid (RAS+, nibabel convention) of the volume that
    ``load_dicom_volume`` returns, or None when the files hold no 3-D geometry.
    """

    uid: str
    modality: str
    description: str
    patient: str
    study_uid: str
    study_description: str
    series_number: int | None
    files: tuple[Path, ...]
    grid: Grid | None
    kind: ObjectKind
    warnings: tuple[str, ...]
    frames: tuple[int, ...] = ()
    # The SeriesInstanceUID its files carry: ``uid`` but for a split's ".2" part (whose
    # ``uid`` is made unique), empty when the files have none. What a SEG or RTSTRUCT names.
    series_uid: str = ""

    def is_named_by(self, uids: Iterable[str]) -> bool:
        """True when ``uids`` (a SEG's or RTSTRUCT's references) name this series."""
        names = set(uids)
        return self.uid in names or bool(self.series_uid) and self.series_uid in names

    @property
    def folder(self) -> Path | None:
        """The deepest folder holding every file of the series."""
        if not self.files:
            return None
        if len(self.files) == 1:
            return self.files[0].parent
        return Path(os.path.commonpath([str(f.parent) for f in self.files]))

    def to_json(self) -> dict[str, Any]:
        """The series as `segmap scan --json` prints it (files as a count)."""
        geo = self.grid.to_json() if self.grid is not None else {}
        folder = self.folder
        return {
            "uid": self.uid,
            "modality": self.modality,
            "description": self.description,
            "kind": self.kind,
            "files": len(self.files),
            "frames": len(self.frames) or None,
            "shape": geo.get("shape"),
            "spacing": geo.get("spacing"),
            "orientation": geo.get("orientation"),
            "origin": geo.get("origin"),
            "warnings": list(self.warnings),
            "patient": self.patient,
            "study_uid": self.study_uid,
            "study_description": self.study_description,
            "series_number": self.series_number,
            "folder": str(folder) if folder is not None else None,
        }


def object_kind(sop_class: str, modality: str, has_pixels: bool) -> ObjectKind:
    """The kind of a DICOM object: image, SEG, RTSTRUCT, SR or other (before localizers)."""
    if sop_class == SEG_CLASS or modality == "SEG":
        return ObjectKind.SEG
    if sop_class == RTSTRUCT_CLASS or modality == "RTSTRUCT":
        return ObjectKind.RTSTRUCT
    if sop_class.startswith(SR_CLASS_PREFIX) or modality == "SR":
        return ObjectKind.SR
    if not has_pixels or modality in NON_IMAGE_MODALITIES:
        return ObjectKind.OTHER
    return ObjectKind.IMAGE
