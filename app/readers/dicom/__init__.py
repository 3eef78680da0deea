"""DICOM for Segmap: find series (headers only), their world geometry, and their voxels.

The work is split by what it is about:

* ``app.readers.dicom._header``: one file's header, fast (a small element parser; pydicom for
  the rare files it does not handle);
* ``app.readers.dicom._frames``: enhanced multi-frame files and Siemens mosaics;
* ``app.readers.dicom._group`` and ``app.readers.dicom._geometry``: grouping into series, splitting,
  sorting along the slice normal, the RAS affine and the warnings;
* ``app.readers.dicom._scan``: walking a folder tree and reading headers in parallel;
* ``app.readers.dicom._pixels``: decoding and rescaling the voxels of one series.
"""

from __future__ import annotations

from app.readers.dicom._pixels import load_dicom_volume
from app.readers.dicom._scan import scan_dicom
from app.readers.dicom._series import DicomSeries, ObjectKind

__all__ = [
    "DicomSeries", "ObjectKind", "load_dicom_volume", "scan_dicom"
]
