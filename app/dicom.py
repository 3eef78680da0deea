"""DICOM for Segmap: find series (headers only), their world geometry, and their voxels.

The work is split by what it is about:

* ``app.dicom_header``: one file's header, fast (a small element parser; pydicom for
  the rare files it does not handle);
* ``app.dicom_frames``: enhanced multi-frame files and Siemens mosaics;
* ``app.dicom_group`` and ``app.dicom_geometry``: grouping into series, splitting,
  sorting along the slice normal, the RAS affine and the warnings;
* ``app.dicom_scan``: walking a folder tree and reading headers in parallel;
* ``app.dicom_pixels``: decoding and rescaling the voxels of one series.
"""

from __future__ import annotations

from app.dicom_pixels import load_dicom_volume
from app.dicom_scan import scan_dicom
from app.dicom_series import DicomSeries

__all__ = ["DicomSeries", "load_dicom_volume", "scan_dicom"]
