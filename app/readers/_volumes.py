"""Image volumes and masks: their world grid and their voxels, whatever the format.

A series' image is one NIfTI (.nii, .nii.gz) or NRRD (.nrrd, .nhdr) file, or the
files of one DICOM series; a mask is a NIfTI or NRRD label map. Grids are RAS+
(nibabel's convention) so a mask is compared with its image in world space
(``app.geometry.compare_grids``), never by array shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.readers import _nifti as niio, _nrrd as nrrd
from app.readers.dicom._pixels import load_dicom_volume
from app.readers.dicom._scan import scan_dicom
from app.readers.dicom._series import DicomSeries
from app.errors import VolumeReadError
from app.geometry import Grid
from app.progress import Progress, Work, run

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def volume_format(path: Path) -> str:
    """"nifti", "nrrd" or "dicom" (anything else is tried as DICOM)."""
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(nrrd.NRRD_SUFFIXES):
        return "nrrd"
    return "dicom"


def _single(paths: Sequence[Path]) -> tuple[Path, str] | None:
    if not paths:
        raise VolumeReadError("The series lists no image items.",
                              "Give the image file, or the files of one DICOM series.")
    first = Path(paths[0])
    kind = volume_format(first)
    if kind == "dicom":
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
    images = [s for s in found if s.kind == "image"] or [s for s in found if s.kind == "localizer"]
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
    if kind == "nifti":
        info = niio.read_info(path)
        return Grid.of(info.shape, info.affine)
    return nrrd.read_info(path).grid


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
    info = niio.read_info(path)
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
    if kind == "nifti":
        data, grid = _nifti(path, scaled=True)
    else:
        raw, grid = nrrd.read_nrrd(path)
        data = _three_d(raw, path)
    yield Progress(1, 1, f"Read {path.name}")
    return data, grid


def _as_labels(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype.kind in "iub":
        return data.astype(np.uint8) if data.dtype == np.bool_ else data
    if data.dtype.kind != "f":
        raise VolumeReadError(f"{path} stores {data.dtype} voxels, not labels.",
                              "A label map must hold whole numbers (uint8 or uint16 is best).")
    finite = np.isfinite(data)
    if not finite.all() or not np.array_equal(data, np.round(data)):
        raise VolumeReadError(
            f"{path} holds fractional values (e.g. {data[finite & (data != np.round(data))][:1]}),"
            " not labels.", "Threshold or round the mask to whole numbers before importing it.")
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    for dtype in (np.uint8, np.uint16, np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return data.astype(dtype)
    raise VolumeReadError(f"{path} holds label values too large to be labels ({hi:g}).")


def load_mask(path: Path) -> tuple[np.ndarray, Grid]:
    """A NIfTI or NRRD label map: integer voxels (scaling applied) and its world grid."""
    p = Path(path)
    kind = volume_format(p)
    if kind == "nifti":
        data, grid = _nifti(p, scaled=True)
    elif kind == "nrrd":
        raw, grid = nrrd.read_nrrd(p)
        data = _three_d(raw, p)
    else:
        raise VolumeReadError(f"{p} is not a NIfTI or NRRD mask.",
                              "Masks must be .nii, .nii.gz, .nrrd or .nhdr files.")
    return _as_labels(data, p), grid
