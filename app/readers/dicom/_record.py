"""The record of one DICOM file's header: the fields Segmap reads, and what they mean.

``app.readers.dicom._header`` fills it from the bytes (or from pydicom);
``app.readers.dicom._frames`` expands multi-frame files into one record per frame;
grouping and sorting (``_group``, ``_geometry``) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.readers.dicom._elements import DEFLATED, EXPLICIT_BE, IMPLICIT_LE

# tag -> (Header field, how to decode the value)
WANTED: dict[int, tuple[str, str]] = {
    0x00020002: ("media_class", "uid"),
    0x00020010: ("transfer_syntax", "uid"),
    0x00080005: ("charset", "strs"),
    0x00080008: ("image_type", "strs"),
    0x00080016: ("sop_class", "uid"),
    0x00080018: ("sop_uid", "uid"),
    0x00080060: ("modality", "str"),
    0x00081030: ("study_description", "text"),
    0x0008103E: ("series_description", "text"),
    0x00100010: ("patient_name", "text"),
    0x00100020: ("patient_id", "text"),
    0x00180050: ("thickness", "ds1"),
    0x00180086: ("echo_number", "is"),
    0x00180088: ("spacing_between", "ds1"),
    0x00181120: ("tilt", "ds1"),
    0x0020000D: ("study_uid", "uid"),
    0x0020000E: ("series_uid", "uid"),
    0x00200011: ("series_number", "is"),
    0x00200012: ("acquisition_number", "is"),
    0x00200013: ("instance_number", "is"),
    0x00200032: ("position", "ds3"),
    0x00200037: ("orientation", "ds6"),
    0x00200100: ("temporal_position", "is"),
    0x00280002: ("samples", "us"),
    0x00280004: ("photometric", "str"),
    0x00280008: ("frames", "is"),
    0x00280010: ("rows", "us"),
    0x00280011: ("columns", "us"),
    0x00280030: ("pixel_spacing", "ds2"),
    0x00280100: ("bits_allocated", "us"),
    0x00280101: ("bits_stored", "us"),
    0x00280103: ("pixel_representation", "us"),
    0x00281052: ("intercept", "ds1"),
    0x00281053: ("slope", "ds1"),
    0x00283000: ("modality_lut", "present"),
}



@dataclass(frozen=True)
class Header:
    """What the scan needs from one DICOM file (or one frame of a multi-frame file)."""

    path: Path
    transfer_syntax: str = ""
    media_class: str = ""
    sop_class: str = ""
    sop_uid: str = ""
    modality: str = ""
    image_type: tuple[str, ...] = ()
    study_uid: str = ""
    series_uid: str = ""
    study_description: str = ""
    series_description: str = ""
    patient_name: str = ""
    patient_id: str = ""
    series_number: int | None = None
    acquisition_number: int | None = None
    instance_number: int | None = None
    echo_number: int | None = None
    temporal_position: int | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] | None = None
    thickness: float | None = None
    spacing_between: float | None = None
    tilt: float | None = None
    rows: int | None = None
    columns: int | None = None
    frames: int | None = None
    samples: int | None = None
    photometric: str = ""
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int | None = None
    slope: float | None = None
    intercept: float | None = None
    modality_lut: bool = False
    gzipped: bool = False
    file_size: int = 0
    pixel_offset: int | None = None  # where the pixel data value starts (None: not reached)
    pixel_length: int | None = None  # its declared length (None: undefined / not reached)
    problems: tuple[str, ...] = ()  # what is off in the file, in words
    pixels_unusable: bool = False  # the pixel data is too short to hold the image
    # Set for files that hold more than one slice (see app.readers.dicom._frames).
    frame: int | None = None  # this record's frame index in a multi-frame file
    mosaic: int | None = None  # number of slices in a Siemens mosaic
    stack: str | None = None  # StackID of an enhanced multi-frame frame
    extras: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def patient(self) -> str:
        """PatientName, else PatientID."""
        return self.patient_name or self.patient_id

    def native_pixel_bytes(self) -> int | None:
        """Bytes the pixel data needs when stored uncompressed (None when unknown)."""
        if not (self.rows and self.columns and self.bits_allocated):
            return None
        samples = self.samples or 1
        if self.photometric in ("YBR_FULL_422", "YBR_PARTIAL_422") and samples == 3:
            samples = 2  # two chroma samples are shared by each pair of pixels
        bits = self.rows * self.columns * (self.frames or 1) * samples * self.bits_allocated
        return (bits + 7) // 8


def is_compressed(transfer_syntax: str) -> bool:
    """True for encapsulated (compressed) transfer syntaxes."""
    return transfer_syntax not in ("", IMPLICIT_LE, "1.2.840.10008.1.2.1", EXPLICIT_BE, *DEFLATED)
