"""Image volumes and masks: their world grid and their voxels, whatever the format.

A series' image is one NIfTI (.nii, .nii.gz) or NRRD (.nrrd, .nhdr) file, or the
files of one DICOM series; a mask is a NIfTI or NRRD label map. Grids are RAS+
(nibabel's convention) so a mask is compared with its image in world space
(``app.geometry.compare_grids``), never by array shape.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np

from app.errors import VolumeReadError
from app.geometry import Grid
from app.progress import Progress, Work, run
from app.readers import _nifti as niio
from app.readers import _nrrd as nrrd
from app.readers._formats import Format, volume_format
from app.readers.dicom import DicomSeries, ObjectKind, load_dicom_volume, scan_dicom


def _single(paths: Sequence[Path]) -> tuple[Path, Format] | None:
    if not paths:
        raise VolumeReadError("The series lists no image items.",
                              "Give the image file, or the files of one DICOM series.")
    first = Path(paths[0])
    kind = volume_format(first)
    if kind is Format.DICOM:
        return None
    if len(paths) > 1:
        raise VolumeReadError(
            f"The image is given as {len(paths)} files, but {first.name} is a single "
            f"{kind.upper()} volume.", "List only the one volume file as the series' items.")
    return first, kind


def dicom_image_series(paths: Sequence[Path]) -> DicomSeries:
    """The one image series among DICOM files (a clear error when there is none or several)."""
    for p in paths:
        if not Path(p).exists():
            raise VolumeReadError(f"Image file not found: {p}", "Check the items' paths.")
    found = run(scan_dicom([Path(p) for p in paths]))
    images = [s for s in found if s.kind is ObjectKind.IMAGE] or \
        [s for s in found if s.kind is ObjectKind.LOCALIZER]
    if not images:
        what = "; ".join(f"{s.kind} {s.description or s.uid}: {' '.join(s.warnings[:1])}"
                         for s in found) or "no DICOM file"
        raise VolumeReadError(f"The items hold no DICOM image series ({what}).",
                              "List the files of one DICOM image series, or one NIfTI/NRRD file.")
    if len(images) > 1:
        names = ", ".join(f"{s.uid} ({s.description}, {len(s.files)} files)" for s in images[:5])
        raise VolumeReadError(
            f"The items hold {len(images)} DICOM image series, not one: {names}.",
            "Give each series as its own series in the items list (segmap scan lists them).")
    return images[0]


def image_grid(paths: Sequence[Path]) -> Grid:
    """The world grid of an image given as its item files (headers only)."""
    single = _single(paths)
    if single is None:
        series = dicom_image_series(paths)
        if series.grid is None:
            raise VolumeReadError(f"DICOM series {series.uid} has no 3-D geometry.",
                                  " ".join(series.warnings) or None)
        return series.grid
    path, kind = single
    if kind is Format.NIFTI:
        info = niio.nifti_info(path)
        return Grid.of(info.shape, info.affine)
    return nrrd.nrrd_info(path).grid


def _three_d(data: np.ndarray, path: Path) -> np.ndarray:
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim > 3:
        raise VolumeReadError(
            f"{path} holds {int(np.prod(data.shape[3:]))} volumes "
            f"({'x'.join(map(str, data.shape))}),"
            " not one 3-D volume.", "Save the one volume (or label map) to use as its own file.")
    return data


def _nifti(path: Path, scaled: bool) -> tuple[np.ndarray, Grid]:
    info = niio.nifti_info(path)
    data = niio.read_raw(info)
    if scaled and info.scaled:
        data = data.astype(np.float32) * np.float32(info.slope or 1.0) + np.float32(info.inter or 0)
    return _three_d(data, path), Grid.of(info.shape, info.affine)


def load_image(paths: Sequence[Path]) -> Work[tuple[np.ndarray, Grid]]:
    """The voxels (NIfTI scaling / DICOM rescale applied) and world grid of an image."""
    single = _single(paths)
    if single is None:
        series = dicom_image_series(paths)
        volume = yield from load_dicom_volume(series)
        assert series.grid is not None
        return volume, series.grid
    path, kind = single
    yield Progress(0, 1, f"Reading {path.name}")
    if kind is Format.NIFTI:
        data, grid = _nifti(path, scaled=True)
    else:
        raw, grid = nrrd.read_nrrd(path)
        data = _three_d(raw, path)
    yield Progress(1, 1, f"Read {path.name}")
    return data, grid


def mask_as_nifti(path: str | os.PathLike[str]) -> nib.Nifti1Image:
    """An NRRD mask as the NIfTI-1 image Segmap converts it to: same voxels, same world grid.

    RedBrick takes NIfTI masks only; ``app.export`` writes this image when it exports
    or uploads an NRRD mask, and the merge reads it in memory, so both see the same
    thing. The spatial axes come first (a Slicer ``.seg.nrrd``'s single layer is
    dropped); values and dtype are kept (booleans become uint8, 64-bit integers the
    narrowest type that holds them); the RAS affine is both sform and qform.
    """
    p = Path(path)
    if volume_format(p) is not Format.NRRD:
        raise VolumeReadError(f"{p} is not an NRRD file.", "Convert NRRD masks only.")
    raw, grid = nrrd.read_nrrd(p)
    data = _three_d(raw, p)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    elif data.dtype.kind in "iu" and data.dtype.itemsize == 8:
        data = _narrowest(data, p)
    img = nib.Nifti1Image(np.asfortranarray(data), grid.affine)
    img.header.set_qform(grid.affine, code=1)
    img.header.set_sform(grid.affine, code=1)
    img.header.set_xyzt_units("mm")
    return img


def _narrowest(data: np.ndarray, path: Path) -> np.ndarray:
    lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
    for dtype in (np.uint8, np.uint16, np.int16, np.uint32, np.int32):
        limits = np.iinfo(dtype)
        if limits.min <= lo and hi <= limits.max:
            return data.astype(dtype)
    raise VolumeReadError(f"{path} holds label values NIfTI cannot store as labels "
                          f"({lo}..{hi}).", "Renumber the labels from 1.")
