"""DICOM for Segmap: find series (headers only), their world geometry, and their voxels.

The work is split by what it is about:

* ``app.readers.dicom._header``: one file's header, fast (a small element parser; pydicom for
  the rare files it does not handle);
* ``app.readers.dicom._frames``: enhanced multi-frame files and Siemens mosaics;
* ``app.readers.dicom._group`` and ``app.readers.dicom._geometry``: grouping into series, splitting,
  sorting along the slice normal, the RAS affine and the warnings;
* ``app.readers.dicom._scan``: walking a folder tree and reading headers in parallel;
* ``app.readers.dicom._pixels``: decoding and rescaling the voxels of one series;
* ``app.readers.dicom._seg`` and ``app.readers.dicom._rtstruct``: DICOM SEG and RT Structure
  Sets as masks on their series' grid, and what RedBrick's SDK stores for them.
"""

from __future__ import annotations

from app.readers.dicom._pixels import load_dicom_volume
from app.readers.dicom._rtstruct import (
    Roi,
    RoiMask,
    RtFinding,
    RtHeader,
    RtMasks,
    read_rtstruct,
    rtstruct_header,
    rtstruct_sdk_refusal,
    sdk_refusal,
    sdk_rtstruct_volume,
)
from app.readers.dicom._scan import scan_dicom
from app.readers.dicom._seg import (
    LABELMAP_CLASS,
    Code,
    SegHeader,
    SegMasks,
    Segment,
    load_seg,
    read_seg,
    sdk_seg_slices,
    sdk_seg_volume,
    seg_header,
    seg_sdk_refusal,
)
from app.readers.dicom._series import RTSTRUCT_CLASS, DicomSeries, ObjectKind

__all__ = [
    "LABELMAP_CLASS", "RTSTRUCT_CLASS", "Code", "DicomSeries", "ObjectKind", "Roi", "RoiMask",
    "RtFinding", "RtHeader", "RtMasks", "SegHeader", "SegMasks", "Segment", "load_dicom_volume",
    "load_seg", "read_rtstruct", "read_seg", "rtstruct_header", "rtstruct_sdk_refusal",
    "scan_dicom", "sdk_refusal", "sdk_rtstruct_volume", "sdk_seg_slices", "sdk_seg_volume",
    "seg_header", "seg_sdk_refusal"
]
