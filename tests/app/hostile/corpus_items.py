"""Hostile inputs for validate, build and export, built at test time (never committed).

Each builder writes one file into the folder a test gives and returns its path:
DICOM objects that are no image to segment (pydicom, as ``tests/app/dicom_synth.py``
builds a CT slice), NIfTI and NRRD files whose headers RedBrick cannot use, a mask
whose scale factor makes its labels fractional, names that are not UTF-8.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.app.builders import image, nifti, volume
from tests.app.dicom_synth import write_slice

# SOP classes and modalities of DICOM objects that hold no image to segment.
NON_IMAGES = {
    "rtplan": ("1.2.840.10008.5.1.4.1.1.481.5", "RTPLAN"),
    "rtstruct": ("1.2.840.10008.5.1.4.1.1.481.3", "RTSTRUCT"),
    "sr": ("1.2.840.10008.5.1.4.1.1.88.22", "SR"),
    "ecg": ("1.2.840.10008.5.1.4.1.1.9.1.1", "ECG"),
    "seg": ("1.2.840.10008.5.1.4.1.1.66.4", "SEG"),
}


def dicom_object(path: Path, kind: str) -> Path:
    """A DICOM file of ``kind`` (a key of ``NON_IMAGES``): headers only, no pixel data
    (``seg`` gets a few bits of pixel data, as a DICOM SEG does)."""
    sop, modality = NON_IMAGES[kind]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop, meta.MediaStorageSOPInstanceUID, modality
    ds.PatientName, ds.PatientID, ds.StudyInstanceUID = "Test^Patient", "P1", "1.2.3.4"
    ds.SeriesInstanceUID, ds.SeriesDescription = generate_uid(), f"synthetic {kind}"
    if kind == "seg":
        ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 3, 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
        ds.PixelData = bytes(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def rt_dose(path: Path) -> Path:
    """An RT Dose grid: pixels and geometry, but a dose, not an image to segment."""
    return write_slice(path, series_uid=generate_uid(), position=(0.0, 0.0, 0.0),
                       Modality="RTDOSE", SOPClassUID="1.2.840.10008.5.1.4.1.1.481.2")


def no_pixels(path: Path) -> Path:
    """A CT slice's header without its pixel data."""
    write_slice(path, series_uid=generate_uid(), position=(0.0, 0.0, 0.0))
    import pydicom

    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    return path


def truncated(path: Path) -> Path:
    """A CT slice cut off in its pixel data."""
    write_slice(path, series_uid=generate_uid(), position=(0.0, 0.0, 0.0), rows=16, cols=16)
    path.write_bytes(path.read_bytes()[:-200])
    return path


def _patched_nifti(path: Path, fields: dict[int, tuple[str, float]], data: Any = None) -> Path:
    """A NIfTI-1 file (uncompressed unless ``path`` ends in .gz) with header bytes set:
    ``{offset: (struct format, value)}``."""
    tmp = path.with_name(".plain-" + path.name.removesuffix(".gz"))
    if data is None:
        image(tmp)
    else:
        nifti(tmp, data)
    raw = bytearray(tmp.read_bytes())
    tmp.unlink()
    for offset, (fmt, value) in fields.items():
        struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(gzip.compress(bytes(raw)) if path.name.endswith(".gz") else bytes(raw))
    return path


PIXDIM_X, SCL_SLOPE, SCL_INTER, QFORM_CODE, SFORM_CODE, SROW_X = 80, 112, 116, 252, 254, 280


def nan_affine(path: Path) -> Path:
    """A NIfTI image whose sform (the affine readers use) holds NaN."""
    return _patched_nifti(path, {SFORM_CODE: ("<h", 1), SROW_X: ("<f", float("nan")),
                                 PIXDIM_X: ("<f", float("nan"))})


def scaled_mask(path: Path, slope: float = 0.5) -> Path:
    """A uint8 label map with ``scl_slope`` set: its stored 1 and 2 read as 0.5 and 1."""
    data = volume({(0, 0, 0): 1, (1, 0, 0): 2, (2, 1, 1): 2})
    return _patched_nifti(path, {SCL_SLOPE: ("<f", slope), SCL_INTER: ("<f", 0.0)}, data)


def nifti_named_dcm(path: Path) -> Path:
    """A NIfTI image under a ``.dcm`` name (RedBrick uploads it as DICOM)."""
    tmp = image(path.with_name(path.stem + ".nii"))
    tmp.rename(path)
    return path


def _nrrd_text(path: Path, header: dict[str, str], payload: bytes) -> Path:
    lines = ["NRRD0004"] + [f"{k}: {v}" for k, v in header.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n\n").encode("ascii") + payload)
    return path


_NRRD_BASE = {"type": "uint8", "dimension": "3", "space": "left-posterior-superior",
              "sizes": "4 3 2", "space directions": "(1,0,0) (0,1,0) (0,0,1)",
              "space origin": "(0,0,0)", "encoding": "raw"}


def nrrd_unknown_encoding(path: Path) -> Path:
    """An NRRD whose ``encoding`` no reader knows."""
    return _nrrd_text(path, {**_NRRD_BASE, "encoding": "zstd-fancy"}, bytes(24))


def nrrd_nan_directions(path: Path) -> Path:
    """An NRRD whose ``space directions`` hold NaN."""
    return _nrrd_text(path, {**_NRRD_BASE, "space directions": "(nan,0,0) (0,1,0) (0,0,1)"},
                      bytes(24))


def non_utf8(name: bytes) -> str:
    """A file name that is not UTF-8, as Python reads it from the file system."""
    return os.fsdecode(name)


def items_list(folder: Path, series: dict[str, Any] | list[dict[str, Any]],
               name: str = "items.json") -> Path:
    """An items list of one task ``case`` holding ``series``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps([{"name": "case", "series": series if isinstance(series, list)
                                 else [series]}]))
    return path


def labelled(folder: Path, name: str = "seg.nii.gz") -> Path:
    """A label map with value 1, on the grid of ``image``'s default image."""
    return nifti(folder / name, volume({(0, 0, 0): 1, (1, 1, 1): 1}))


__all__ = ["NON_IMAGES", "dicom_object", "items_list", "labelled", "nan_affine", "nifti_named_dcm",
           "no_pixels", "non_utf8", "nrrd_nan_directions", "nrrd_unknown_encoding", "rt_dose",
           "scaled_mask", "truncated"]
