"""Write the demo's CT as a real DICOM series (CT Image Storage, explicit VR little endian).

Every attribute the CT Image IOD requires is present; UIDs are derived
deterministically (``generate_uid(entropy_srcs=...)``) so two runs write the
same bytes. The files are written in a shuffled order under names that do not
follow the slice order, as real exports are: readers must sort by position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from app import __version__
from app.demo._phantom import ORIGIN_LPS, SPACING, slice_z

RESCALE_INTERCEPT = -1024  # stored value = HU + 1024, as most scanners write CT
DATE, TIME = "20261123", "093000"
PATIENT_NAME = "Demo^Phantom"
PATIENT_ID = "SEGMAP-DEMO-001"
SERIES_DESCRIPTION = "Synthetic abdomen CT (Segmap demo)"
# Direction cosines of the rows (to the patient's left) and columns (to the back): axial.
ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def demo_uid(*parts: str) -> UID:
    """A UID that is the same on every run for the same ``parts``."""
    return generate_uid(entropy_srcs=["segmap-demo", *parts])


def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def _common(rows: int, columns: int) -> Dataset:
    """The attributes every slice shares."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = TIME
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = "Segmap"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Segmap demo: synthetic phantom, not a patient"
    ds.SeriesDescription = SERIES_DESCRIPTION
    ds.ManufacturerModelName = "Segmap demo phantom"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = "ABDOMEN"
    ds.SliceThickness = _ds(SPACING[2])
    ds.KVP = "120"
    ds.SpacingBetweenSlices = _ds(SPACING[2])
    ds.SoftwareVersions = f"segmap {__version__}"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = demo_uid("study")
    ds.SeriesInstanceUID = demo_uid("series", "ct")
    ds.StudyID = "1"
    ds.SeriesNumber = 2
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [_ds(v) for v in ORIENTATION]
    ds.FrameOfReferenceUID = demo_uid("frame-of-reference")
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.PixelSpacing = [_ds(SPACING[1]), _ds(SPACING[0])]  # row spacing, column spacing
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1  # signed int16
    # Two presets, as scanners store them: abdomen first (viewers open with it), then lung.
    ds.WindowCenter = ["40", "-600"]
    ds.WindowWidth = ["400", "1500"]
    ds.WindowCenterWidthExplanation = ["ABDOMEN", "LUNG"]
    ds.RescaleIntercept = str(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def _slice(common: Dataset, hu: np.ndarray, k: int, n_slices: int) -> Dataset:
    ds = Dataset()
    ds.update(common)
    sop = demo_uid("instance", "ct", str(k))
    ds.SOPInstanceUID = sop
    # Head-first scanners number from the top: instance 1 is the most superior slice.
    ds.InstanceNumber = n_slices - k
    ds.ImagePositionPatient = [_ds(ORIGIN_LPS[0]), _ds(ORIGIN_LPS[1]), _ds(slice_z(k))]
    ds.SliceLocation = _ds(slice_z(k))
    stored = hu[:, :, k].T.astype(np.int32) - RESCALE_INTERCEPT  # (rows, columns)
    ds.PixelData = np.ascontiguousarray(stored, dtype="<i2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = demo_uid("implementation", __version__)
    meta.ImplementationVersionName = f"SEGMAP_{__version__}"[:16]
    ds.file_meta = meta
    return ds


def slice_file_name(k: int) -> str:
    """The file name of slice k: derived from its UID, so it says nothing of its position."""
    digest = hashlib.sha1(demo_uid("instance", "ct", str(k)).encode()).hexdigest()
    return f"IM_{digest[:8].upper()}.dcm"


def write_series(hu: np.ndarray, folder: Path) -> Iterator[str]:
    """Write ``hu`` (int16, (column, row, slice)) as one DICOM file per slice into ``folder``.

    Yields each file name as it is written; the order is shuffled with a fixed seed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    columns, rows, n_slices = hu.shape
    common = _common(rows, columns)
    order = np.random.default_rng(1123).permutation(n_slices)
    for k in (int(k) for k in order):
        name = slice_file_name(k)
        pydicom.dcmwrite(folder / name, _slice(common, hu, k, n_slices), enforce_file_format=True)
        yield name
