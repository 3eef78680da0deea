"""Small synthetic DICOM files for the tests: a slice is a few pixels with a known header."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SYNTAXES = {"explicit": ExplicitVRLittleEndian, "implicit": ImplicitVRLittleEndian,
            "big": ExplicitVRBigEndian}


def pixels_for(k: int, rows: int, cols: int) -> np.ndarray:
    """A slice whose every pixel value tells its (slice, row, column)."""
    r, c = np.mgrid[0:rows, 0:cols]
    return (100 * k + 10 * r + c).astype(np.int16)


def write_slice(path: Path, *, series_uid: str, position: Sequence[float] | None,
                orientation: Sequence[float] | None = AXIAL, rows: int = 4, cols: int = 3,
                spacing: Sequence[float] | None = (0.5, 0.75), instance: int = 1,
                pixels: np.ndarray | None = None, slope: float | None = None,
                intercept: float | None = None, image_type: str = "ORIGINAL\\PRIMARY\\AXIAL",
                description: str = "synthetic", syntax: str = "explicit", **extra: object
                ) -> Path:
    """Write one single-frame CT slice."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = SYNTAXES[syntax]
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = image_type.split("\\")
    ds.SOPClassUID = CT_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.SeriesDescription = description
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P1"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 7
    ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = [float(x) for x in position]
    if orientation is not None:
        ds.ImageOrientationPatient = [float(x) for x in orientation]
    if spacing is not None:
        ds.PixelSpacing = [float(x) for x in spacing]
    ds.SliceThickness = 1.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    for key, value in extra.items():
        setattr(ds, key, value)
    data = pixels if pixels is not None else pixels_for(instance, rows, cols)
    ds.PixelData = data.astype(">i2" if syntax == "big" else "<i2").tobytes()
    ds["PixelData"].VR = "OW"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(folder: Path, positions: Sequence[Sequence[float]], uid: str | None = None,
                 prefix: str = "im", **kw: object) -> list[Path]:
    """One file per position (instance numbers from 1), named in position order."""
    uid = generate_uid() if uid is None else uid
    return [write_slice(folder / f"{prefix}{k:03d}.dcm", series_uid=uid, position=p,
                        instance=k + 1, **kw)  # type: ignore[arg-type]
            for k, p in enumerate(positions)]


def axial_positions(zs: Sequence[float], x: float = -10.0, y: float = 20.0) -> list[tuple]:
    return [(x, y, float(z)) for z in zs]
