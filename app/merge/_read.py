"""Reading a segmentation file as RedBrick's SDK reads it before merging.

The SDK loads each file with nibabel and takes uint8 / uint16 voxels as they are
and anything else as ``np.round(get_fdata()).astype(uint16)``: floats rounded half
to even, negative values and values above 65535 wrapped modulo 65536. Only
NIfTI-1/2 files load; an NRRD mask is read as the NIfTI image Segmap converts it
to when it exports or uploads (``app.readers.mask_as_nifti``), a DICOM SEG as the
NIfTI RedBrick's CLI converts it to with ``--dicom-seg`` (``app.readers.seg_as_nifti``,
which Segmap's upload sends too), and a PNG mask as the SDK converts it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import nibabel as nib
import numpy as np

from app.errors import MergeError, VolumeReadError
from app.items import gzip_name_fault, mask_accepted, mask_converted
from app.jsonio import open_regular
from app.readers import (
    GZIP_MAGIC,
    RUNS,
    NiftiHeader,
    NiftiInfo,
    is_dicom_seg,
    mask_as_nifti,
    nifti_info,
    nonzero,
    read_raw,
    require_memory,
    seg_as_nifti,
)

_SPARSE = 8  # runs rebuild a base with at most 1 in 8 voxels non-zero; denser, it is read
_SLAB_VOXELS = 1 << 22  # float conversion in slabs keeps memory near one uint16 volume


def sdk_label(value: float) -> int:
    """The label RedBrick stores for a voxel value: rounded half to even, modulo 65536."""
    return int(np.round(value)) % 65536


def shape_text(shape: Sequence[int]) -> str:
    """``128x112x64``."""
    return "x".join(str(s) for s in shape)


@dataclass(frozen=True)
class MaskFile:
    """A segmentation file as the SDK sees it: a NIfTI header, and where its voxels are.

    ``nifti`` is set for NIfTI files (read fast, straight from the file); ``image``
    for files held in memory (an NRRD mask's NIfTI conversion, a DICOM SEG's SDK volume).
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    affine: np.ndarray
    header: NiftiHeader
    nifti: NiftiInfo | None = None
    image: nib.Nifti1Image | None = None

    @property
    def exact_dtype(self) -> bool:
        """True for uint8 / uint16 as the SDK tests it (== is False for big-endian uint16)."""
        return bool(self.dtype == np.uint8 or self.dtype == np.uint16)

    @property
    def plain(self) -> bool:
        """True when the SDK takes the voxels as they are (uint8 / uint16, unscaled)."""
        return self.exact_dtype and not self.scaled

    @property
    def scaled(self) -> bool:
        """True when scl_slope / scl_inter change the stored values."""
        return self.nifti is not None and self.nifti.scaled


def _merge_error(exc: VolumeReadError) -> MergeError:
    # A file the SDK cannot read either: its message is what the SDK reports too.
    return MergeError(exc.message, exc.hint, sdk_message=exc.message)


def need_memory(path: str, nbytes: int, what: str) -> None:
    """A MergeError naming ``path`` and the sizes unless ``nbytes`` of memory are free."""
    try:
        require_memory(path, nbytes, what)
    except VolumeReadError as exc:
        raise MergeError(exc.message, exc.hint) from None


def _voxels(mask: MaskFile) -> int:
    return math.prod(mask.shape)


def open_mask(path: str) -> MaskFile:
    """The header of a segmentation file, or the MergeError the SDK fails with."""
    try:
        seg = not mask_accepted(path) and not mask_converted(path) and is_dicom_seg(path)
        if mask_converted(path) or seg:
            img = seg_as_nifti(path) if seg else mask_as_nifti(path)
            return MaskFile(path, tuple(int(n) for n in img.shape), img.get_data_dtype(),
                            np.asarray(img.affine, dtype=np.float64), img.header, image=img)
        if not mask_accepted(path):
            # nibabel picks the image class from the file name; the SDK refuses anything
            # that does not load as NIfTI-1/2.
            raise MergeError(
                f"{path} is not a NIfTI file (.nii or .nii.gz); RedBrick cannot merge it.",
                "Convert the mask to NIfTI (.nii.gz) first.",
                sdk_message="Invalid mask type",
            )
        info = nifti_info(path)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None
    _check_gzip_name(path, info.gzipped)
    return MaskFile(path, info.shape, info.dtype, info.affine, info.header, nifti=info)


def check_gzip_names(files: Sequence[str]) -> None:
    """The MergeError of the first NIfTI file whose name says gzip and whose content does
    not (or the reverse): what the upload checks before it sends anything. Files that
    cannot be opened are left to the merge, which says why."""
    for path in files:
        if not mask_accepted(path) or mask_converted(path):
            continue  # NRRD and DICOM SEG masks go up as Segmap's NIfTI conversions
        try:
            with open_regular(path, "segmentation file", VolumeReadError) as fh:
                magic = fh.read(2)
        except (VolumeReadError, OSError):
            continue
        _check_gzip_name(path, magic == GZIP_MAGIC)


def _check_gzip_name(path: str, gzipped: bool) -> None:
    """``MergeError`` for a NIfTI whose name and content disagree about gzip
    (``app.items.gzip_name_fault``: RedBrick's SDK cannot open it)."""
    fault = gzip_name_fault(path, gzipped)
    if fault is None:
        return
    what, sdk = fault
    raise MergeError(f"{path} {what}; RedBrick opens files by their name and cannot read it.",
                     "Rename it to match its content (.nii.gz when compressed, .nii otherwise).",
                     sdk_message=sdk)


def check_three_d(mask: MaskFile, base: bool) -> None:
    """The SDK's 'Invalid (base) mask shape' for anything but a 3-D volume."""
    if len(mask.shape) != 3:
        which = "base mask" if base else "mask"
        raise MergeError(
            f"{mask.path} has {len(mask.shape)} dimensions ({shape_text(mask.shape)}); "
            "RedBrick needs a 3-D volume.",
            "Save the mask as a 3-D volume (drop singleton 4th dimensions).",
            sdk_message=f"Invalid {which} shape",
        )


def _scaled_voxels(mask: MaskFile) -> np.ndarray:
    # Rare: a label map with scl_slope / scl_inter. The SDK rounds scaled float data;
    # for scaled uint8/uint16 it keeps nibabel's float values, which only make sense
    # as labels when they are whole numbers. Memory: nibabel's float64 copy, the stored
    # values under it and the labels made from them.
    need_memory(mask.path, _voxels(mask) * (8 + mask.dtype.itemsize + 2),
                f"the scaled values of its {shape_text(mask.shape)} voxels")
    try:
        img = cast(nib.Nifti1Image, nib.load(mask.path))  # a regular file: open_mask checked
        scaled = np.asanyarray(img.dataobj, dtype=np.float64)
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise MergeError(f"Cannot read {mask.path}: {exc}", sdk_message=str(exc)) from None
    with np.errstate(invalid="ignore", over="ignore"):  # wrapped as the SDK's cast wraps
        if not mask.exact_dtype:
            return np.asfortranarray(np.round(scaled).astype(np.uint16))
        integral = np.array_equal(scaled, np.round(scaled))
        if not integral or scaled.min() < 0 or scaled.max() > 65535:
            raise MergeError(
                f"{mask.path} has scl_slope/scl_inter that turn its labels into fractions.",
                "Save the mask with scl_slope 1 and scl_inter 0 (plain integer labels).",
            )
        return np.asfortranarray(scaled.astype(mask.dtype))


def _stored(mask: MaskFile) -> np.ndarray:
    """The voxels as stored (native byte order, Fortran order)."""
    if mask.image is not None:  # a copy: the merge writes into the base volume
        data = np.asanyarray(mask.image.dataobj)
        return np.array(data, dtype=data.dtype.newbyteorder("="), order="F")
    assert mask.nifti is not None
    try:
        return read_raw(mask.nifti)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None


def read_voxels(mask: MaskFile, base: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A mask's voxels as the SDK merges them, and its non-zero flat indices when known.

    uint8 files stay uint8 (the merge widens them only if a value above 255 must be
    written, which gives the SDK's uint16 results); anything else becomes uint16.
    """
    check_three_d(mask, base)
    if mask.scaled:
        return _scaled_voxels(mask), None
    if mask.plain and mask.nifti is not None:
        cached = RUNS.get(mask.path)
        if cached is not None and cached.shape == mask.shape and \
                _SPARSE * int(cached.lengths.sum()) <= _voxels(mask):
            # Rebuilt from the census's runs: no second inflate of the file. Only for a
            # sparse file: scattering 24 M voxels of a dense label map costs 3x its read.
            need_memory(mask.path, _voxels(mask) * mask.dtype.itemsize,
                        f"its {shape_text(mask.shape)} {mask.dtype.name} voxels")
            flat = np.zeros(_voxels(mask), mask.dtype.newbyteorder("="))
            idx, vals = cached.expand()
            flat[idx] = vals
            return flat.reshape(mask.shape, order="F"), idx
    if not mask.plain:  # the stored voxels and the uint16 labels made from them
        need_memory(mask.path, _voxels(mask) * (mask.dtype.itemsize + 2),
                    f"its {shape_text(mask.shape)} {mask.dtype.name} voxels as uint16 labels")
    raw = _stored(mask)
    if mask.plain:
        return raw, None
    # Float and signed data: np.round(get_fdata()).astype(uint16), done in slabs. NaN,
    # infinities and values outside 0..65535 wrap as numpy casts them for the SDK too;
    # numpy's "invalid value in cast" warning is no news to a user (validation says it).
    out = np.empty(mask.shape, dtype=np.uint16, order="F")
    flat_in, flat_out = raw.reshape(-1, order="F"), out.reshape(-1, order="F")
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, flat_in.size, _SLAB_VOXELS):
            part = flat_in[start : start + _SLAB_VOXELS].astype(np.float64)
            flat_out[start : start + _SLAB_VOXELS] = np.round(part).astype(np.uint16)
    return out, None


def read_nonzero(mask: MaskFile) -> tuple[np.ndarray, np.ndarray]:
    """Flat (Fortran-order) indices and SDK values of a later file's non-zero voxels."""
    if len(mask.shape) == 3 and mask.plain and mask.nifti is not None:
        cached = RUNS.get(mask.path)
        if cached is not None and cached.shape == mask.shape:
            return cached.expand()  # the census already streamed this file
        try:
            return nonzero(mask.nifti)
        except VolumeReadError as exc:
            raise _merge_error(exc) from None
    data, _ = read_voxels(mask, False)
    flat = data.reshape(-1, order="F")
    nz = np.flatnonzero(flat)
    return nz, flat[nz]


def png_volume(path: str) -> np.ndarray:
    """A PNG mask as the SDK converts it: any channel non-zero -> 1, shape (W, H, 1)."""
    from PIL import Image

    try:
        with open_regular(path, "PNG mask", VolumeReadError) as fh, Image.open(fh) as img:
            png = np.array(img)
    except VolumeReadError as exc:
        raise MergeError(exc.message, exc.hint, sdk_message="Files do not exist") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path} is not a readable PNG: {exc}", sdk_message=str(exc)) from None
    if png.ndim != 3:
        raise MergeError(
            f"{path} is a single-channel PNG; RedBrick's PNG import needs an RGB(A) image.",
            "Save the mask as RGB or RGBA.",
            sdk_message=f"axis 2 is out of bounds for array of dimension {png.ndim}",
        )
    flat = np.any(png, axis=2).astype(np.uint8)
    return flat.reshape(png.shape[0], png.shape[1], 1).swapaxes(0, 1)


def png_mask(path: str, volume: np.ndarray) -> MaskFile:
    """A PNG converted in memory, as the SDK saves it: a fresh NIfTI-1 image."""
    img = nib.Nifti1Image(volume, np.diag([-1.0, -1.0, 1.0, 1.0]))
    return MaskFile(path, tuple(int(n) for n in volume.shape), img.get_data_dtype(),
                    np.asarray(img.affine, dtype=np.float64), img.header, image=img)
