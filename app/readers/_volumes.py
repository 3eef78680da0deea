"""Image volumes and masks: their world grid and their voxels, whatever the format.

A series' image is one NIfTI (.nii, .nii.gz) or NRRD (.nrrd, .nhdr) file, or the
files of one DICOM series; a mask is a NIfTI or NRRD label map, or a DICOM SEG
(read as the NIfTI RedBrick's SDK stores for it, ``seg_as_nifti``). Grids are RAS+
(nibabel's convention) so a mask is compared with its image in world space
(``app.geometry.compare_grids``), never by array shape.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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
from app.readers.dicom import (
    LABELMAP_CLASS,
    RTSTRUCT_CLASS,
    DicomSeries,
    ObjectKind,
    load_dicom_volume,
    scan_dicom,
    sdk_seg_volume,
)

# The two DICOM SEG SOP classes: Segmentation Storage and Label Map Segmentation Storage.
SEG_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.66.4", LABELMAP_CLASS})


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


# -- DICOM SEG masks ---------------------------------------------------------------------

_FileKey = tuple[str, int, int]
_SEG_BUDGET = 512 << 20  # bytes of SEG conversions kept (a 512x512x300 SEG is 79 MB)
_SEG_ENTRY_BYTES = 4096  # what an entry costs beyond its voxels (image, header, key)


def _file_key(path: str | os.PathLike[str]) -> _FileKey | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


class _SegCache:
    """What is known of SEG files, keyed by (path, size, mtime): whether a file is one, and
    the NIfTI RedBrick stores for it (or why it cannot), so one operation (census, then
    merge; validation, then the preview) decodes a SEG once. Bounded in bytes, LRU."""

    def __init__(self, budget: int = _SEG_BUDGET) -> None:
        self.budget = budget
        self._is: dict[_FileKey, str] = {}  # the SOP Class UID ("" for no DICOM file)
        self._images: OrderedDict[_FileKey, nib.Nifti1Image | VolumeReadError] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _size(got: nib.Nifti1Image | VolumeReadError) -> int:
        # Each entry counts its overhead too, so that refusals (no voxels) are bounded.
        voxels = 0 if isinstance(got, VolumeReadError) else int(np.asanyarray(got.dataobj).nbytes)
        return voxels + _SEG_ENTRY_BYTES

    def sop_class(self, key: _FileKey) -> str | None:
        with self._lock:
            return self._is.get(key)

    def set_sop_class(self, key: _FileKey, value: str) -> None:
        with self._lock:
            if len(self._is) > 100_000:
                self._is.clear()
            self._is[key] = value

    def image(self, key: _FileKey) -> nib.Nifti1Image | VolumeReadError | None:
        with self._lock:
            got = self._images.get(key)
            if got is not None:
                self._images.move_to_end(key)
            return got

    def put(self, key: _FileKey, got: nib.Nifti1Image | VolumeReadError) -> None:
        size = self._size(got)
        if size > self.budget // 2:
            return  # one huge SEG must not push out everything else
        with self._lock:
            old = self._images.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            self._images[key] = got
            self._bytes += size
            while self._bytes > self.budget and self._images:
                _, dropped = self._images.popitem(last=False)
                self._bytes -= self._size(dropped)

    def __len__(self) -> int:
        return len(self._images)

    @property
    def nbytes(self) -> int:
        """The bytes the kept images count against the budget (never more than it)."""
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._is.clear()
            self._images.clear()
            self._bytes = 0


SEG_CACHE = _SegCache()


def _sop_class(path: str | os.PathLike[str]) -> str:
    """The SOP Class UID of a DICOM file ("" for anything else), read once per file version:
    a NIfTI or NRRD name is never opened, anything else only for its first bytes and that
    one tag."""
    if volume_format(path) is not Format.DICOM:
        return ""
    key = _file_key(path)
    if key is None or not os.path.isfile(path):
        return ""
    known = SEG_CACHE.sop_class(key)
    if known is not None:
        return known
    found = ""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
        if head[128:132] == b"DICM":
            import pydicom

            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
            found = str(ds.get("SOPClassUID", ""))
    except Exception:  # noqa: BLE001 - a file pydicom cannot parse is no object Segmap reads
        found = ""
    SEG_CACHE.set_sop_class(key, found)
    return found


def is_dicom_seg(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a regular file holding a DICOM SEG (either SOP class: the
    binary/fractional Segmentation Storage or the label-map one), judged by its header."""
    return _sop_class(path) in SEG_CLASSES


def is_rtstruct(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a regular file holding an RT Structure Set, by its header."""
    return _sop_class(path) == RTSTRUCT_CLASS


def seg_as_nifti(path: str | os.PathLike[str]) -> nib.Nifti1Image:
    """A DICOM SEG mask as the NIfTI-1 image RedBrick's SDK 2.35.4 stores for it when it is
    uploaded with ``redbrick upload --dicom-seg`` (``sdk_seg_volume``: the SEG's own
    frame-span grid, voxel values = segment numbers).

    Census, merge, validation and upload all read a SEG through this function, so they see
    the same voxels; the result is cached per file version (treat it as read-only). Raises
    VolumeReadError when the SDK would refuse the file, or it cannot be read, with why.
    """
    p = Path(path)
    key = _file_key(p)
    got = SEG_CACHE.image(key) if key is not None else None
    if got is None:
        try:
            got = sdk_seg_volume(p)
        except VolumeReadError as exc:
            got = exc
        if key is not None:
            SEG_CACHE.put(key, got)
    if isinstance(got, VolumeReadError):
        raise VolumeReadError(got.message, got.hint)
    return got
