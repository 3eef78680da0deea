"""Hostile and broken volumes, built at test time (never committed binaries).

NIfTI headers that lie (about their size, their dimensions, their affine, where their
voxels start), gzip bombs, NRRD files that are empty or whose data file is a FIFO, and a
deflated DICOM whose pixels inflate far beyond the file. Each builder writes one case
at the path the test gives and returns it.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

from tests.app.hostile.corpus import fifo

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
_ZEROS = bytes(1 << 22)


def _write(path: Path, data: bytes, gz: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def header_bytes(version: int = 1, shape: Sequence[int] = (4, 3, 2), dtype: Any = np.uint8,
                 **fields: Any) -> bytes:
    """The fixed header of a single-file NIfTI (plus the 4-byte extension flag), with
    ``fields`` written straight into it: nothing nibabel would check or fix."""
    cls = nib.Nifti1Header if version == 1 else nib.Nifti2Header
    h = cls()
    h.set_data_dtype(dtype)
    h.set_data_shape((1,) * len(shape))
    h.set_sform(np.eye(4), code=1)
    h.set_qform(np.eye(4), code=1)
    h["vox_offset"] = 352 if version == 1 else 544
    h["dim"][1:len(shape) + 1] = shape
    for name, value in fields.items():
        h[name] = value
    return h.binaryblock + b"\0\0\0\0"


def lying_nifti(path: Path, shape: Sequence[int], version: int = 1, size: int = 1024,
                gz: bool = False) -> Path:
    """A ``size``-byte file whose header claims a volume of ``shape`` uint8 voxels."""
    head = header_bytes(version, shape)
    return _write(path, head + bytes(max(0, size - len(head))), gz)


def nifti_with(path: Path, data: np.ndarray, version: int = 1, gz: bool = False,
               **fields: Any) -> Path:
    """A NIfTI of ``data`` (Fortran order) whose header fields are then overwritten."""
    head = header_bytes(version, data.shape, data.dtype, **fields)
    return _write(path, head + np.asarray(data).tobytes(order="F"), gz)


def negative_dim(path: Path) -> Path:
    """A NIfTI-1 whose first dimension is -6 (a broken header, not a geometry)."""
    data = np.zeros((6, 6, 4), np.uint8)
    data[1, 1, 1] = 1
    path = nifti_with(path, data)
    raw = bytearray(path.read_bytes())
    raw[42:44] = (-6).to_bytes(2, "little", signed=True)  # dim[1]
    path.write_bytes(bytes(raw))
    return path


def nan_affine(path: Path, shape: Sequence[int] = (4, 3, 2), gz: bool = True) -> Path:
    """A label map whose sform (the only affine it gives) holds NaN."""
    data = np.zeros(tuple(shape), np.uint8)
    data[1, 1, 1] = 1
    return nifti_with(path, data, gz=gz, qform_code=0, sform_code=1,
                      srow_x=[np.nan, 0, 0, 0])


def wrapping_dims(path: Path) -> Path:
    """A NIfTI-2 whose dimensions multiply to 2**64 + 4: int64 arithmetic wraps to 4."""
    head = header_bytes(2, (2**62 + 1, 4, 1))
    return _write(path, head + bytes(4), gz=False)


def vox_offset_zero(path: Path, data: np.ndarray, gz: bool = False) -> Path:
    """A NIfTI-1 whose vox_offset is 0: nibabel then reads the header bytes as voxels."""
    return nifti_with(path, data, gz=gz, vox_offset=0)


def gzip_bomb(path: Path, shape: Sequence[int]) -> Path:
    """A real .nii.gz of zeros (uint8, ``shape``): deflate shrinks it about 1000 times."""
    head = header_bytes(1, shape)
    left = int(np.prod(shape))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9,
                                                 mtime=0) as fh:
        fh.write(head)
        while left:
            n = min(left, len(_ZEROS))
            fh.write(_ZEROS[:n])
            left -= n
    return path


def empty_file(path: Path) -> Path:
    """A 0-byte file (``.nrrd``, ``.nii.gz``, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def nhdr_with_fifo_data(path: Path) -> Path:
    """A detached NRRD header (.nhdr) whose data file is a named pipe."""
    data = path.with_suffix(".raw")
    fifo(data)
    path.write_text("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 3 2\n"
                    "space: left-posterior-superior\n"
                    "space directions: (1,0,0) (0,1,0) (0,0,1)\n"
                    "space origin: (0,0,0)\nencoding: raw\n"
                    f"data file: {data.name}\n\n", encoding="ascii")
    return path


def _dicom_dataset(rows: int, cols: int, frames: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientID = "P1"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [0.0, 0.0, 0.0]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.SliceThickness = 1.0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    return ds


def deflated_dicom(path: Path, rows: int = 512, cols: int = 512, frames: int = 1) -> Path:
    """A Deflated Explicit VR Little Endian CT whose (zero) pixels deflate ~1000 times.

    The pixel data is streamed into the deflater, so a file that inflates to gigabytes
    is built without holding them."""
    ds = _dicom_dataset(rows, cols, frames)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_CLASS
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    pixels = rows * cols * frames * 2
    body.write(b"\xe0\x7f\x10\x00OW\0\0" + pixels.to_bytes(4, "little"))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(head.getvalue())
        fh.write(deflate.compress(body.getvalue()))
        while pixels:
            n = min(pixels, len(_ZEROS))
            fh.write(deflate.compress(_ZEROS[:n]))
            pixels -= n
        fh.write(deflate.flush())
    return path


def folder_with_pipes(root: Path) -> Path:
    """A small dataset (one image, one mask) beside a FIFO mask, a device link and a FIFO
    that a DICOM scan would open."""
    from tests.app.builders import image, nifti, volume
    from tests.app.hostile.corpus import device_link

    image(root / "case1" / "ct.nii.gz")
    nifti(root / "case1" / "ct_seg.nii.gz", volume({(1, 1, 1): 1}))
    fifo(root / "case1" / "liver_seg.nii.gz")
    device_link(root / "case1" / "zero_seg.nii.gz")
    fifo(root / "case1" / "IM0001")
    os.mkfifo(root / "case1" / "lungs.nrrd")
    return root


@contextlib.contextmanager
def released(*pipes: Path) -> Iterator[None]:
    """While inside, a writer waits on each FIFO and hangs up as soon as a reader opens
    it: code that (wrongly) opens the pipe reads an empty file and fails, instead of
    hanging the test run. Code that never opens it leaves the writer waiting; it is
    released on the way out."""
    writers = [threading.Thread(target=lambda p=p: open(p, "wb").close(), daemon=True)
               for p in pipes]
    for w in writers:
        w.start()
    try:
        yield
    finally:
        for p, w in zip(pipes, writers, strict=True):
            fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
            w.join()
            os.close(fd)
