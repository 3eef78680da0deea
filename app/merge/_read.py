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
from collections.abc import Iterable, Iterator, Sequence
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
    Runs,
    chunk_runs,
    is_dicom_seg,
    iter_raw,
    mask_as_nifti,
    nifti_info,
    nonzero_in,
    read_raw,
    require_memory,
    seg_as_nifti,
)

_SPARSE = 8  # runs rebuild a base with at most 1 in 8 voxels non-zero; denser, it is read
_SLAB_VOXELS = 1 << 22  # in-memory voxels are converted in slabs of this many
_CHUNK_BYTES = 1 << 22  # a file is streamed in chunks of this many bytes


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
    """The voxels as stored (native byte order, Fortran order), a volume of their own."""
    if mask.image is not None:  # a copy: the merge writes into the base volume
        data = np.asanyarray(mask.image.dataobj)
        return np.array(data, dtype=data.dtype.newbyteorder("="), order="F")
    assert mask.nifti is not None
    try:
        return read_raw(mask.nifti)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None


def read_voxels(mask: MaskFile, base: bool) -> np.ndarray:
    """A mask's voxels as the SDK merges them, in the narrowest dtype that holds them.

    The SDK takes uint8 / uint16 voxels as they are and anything else as
    ``np.round(get_fdata()).astype(uint16)``. Here the result is uint8 while every value
    is below 256, and uint16 otherwise: the merge widens a uint8 base only when a value
    above 255 must be written, which gives the SDK's uint16 results with half the memory.
    A NIfTI file that is not plain uint8 is streamed in chunks into that volume, so no
    copy of the stored voxels (int16, float32, ...) is ever held whole.
    """
    check_three_d(mask, base)
    if mask.scaled:
        return _scaled_voxels(mask)
    if mask.image is not None:  # held in memory (NRRD conversion, SEG volume)
        return _converted(mask)
    if mask.plain:
        rebuilt = _from_runs(mask)
        if rebuilt is not None:
            return rebuilt
    if mask.plain and mask.dtype.itemsize == 1:
        return _stored(mask)  # one read into the volume itself
    return _narrow_volume(mask, sdk_chunks(mask))


def _from_runs(mask: MaskFile) -> np.ndarray | None:
    """The volume rebuilt from the census's runs (no second inflate), for a sparse file."""
    cached = RUNS.get(mask.path)
    if cached is None or cached.shape != mask.shape or \
            _SPARSE * int(cached.lengths.sum()) > _voxels(mask):
        # Only for a sparse file: scattering 24 M voxels of a dense label map costs 3x its read.
        return None
    narrow = mask.dtype.itemsize == 1 or not cached.values.size or int(cached.values.max()) < 256
    dtype = np.dtype(np.uint8) if narrow else mask.dtype.newbyteorder("=")
    need_memory(mask.path, _voxels(mask) * dtype.itemsize,
                f"its {shape_text(mask.shape)} {dtype.name} voxels")
    flat = np.zeros(_voxels(mask), dtype)
    idx, vals = cached.expand()
    flat[idx] = vals
    return flat.reshape(mask.shape, order="F")


def _converted(mask: MaskFile) -> np.ndarray:
    """In-memory voxels as the SDK's labels: plain ones copied (the merge writes into the
    base), others converted slab by slab."""
    assert mask.image is not None
    if mask.plain:
        return _stored(mask)
    flat = np.asanyarray(mask.image.dataobj).reshape(-1, order="F")
    chunks = (_sdk_labels(flat[i : i + _SLAB_VOXELS]) for i in range(0, flat.size, _SLAB_VOXELS))
    return _narrow_volume(mask, chunks)


def _sdk_labels(chunk: np.ndarray) -> np.ndarray:
    """np.round(get_fdata()).astype(uint16) of a chunk of stored values. NaN, infinities and
    values outside 0..65535 wrap as numpy casts them for the SDK too; numpy's "invalid
    value in cast" warning is no news to a user (validation says it)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.round(chunk.astype(np.float64)).astype(np.uint16)


def sdk_chunks(mask: MaskFile, chunk_bytes: int = _CHUNK_BYTES, prefetch: bool | None = None
               ) -> Iterator[np.ndarray]:
    """A NIfTI mask's voxels as the SDK's labels, streamed as 1-D chunks in file (Fortran)
    order; a chunk is valid until the next one is requested. ``prefetch`` inflates on a
    second thread (``iter_raw``; by default where a core is spare)."""
    assert mask.nifti is not None
    plain = mask.plain
    try:
        for chunk in iter_raw(mask.nifti, chunk_bytes, prefetch):
            yield chunk if plain else _sdk_labels(chunk)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None


def _narrow_volume(mask: MaskFile, chunks: Iterable[np.ndarray]) -> np.ndarray:
    """Chunks of labels laid end to end in a uint8 volume, widened to uint16 at the first
    value above 255 (the memory of the result, never of the stored voxels)."""
    n = _voxels(mask)
    what = f"its {shape_text(mask.shape)} voxels as labels"
    need_memory(mask.path, n, what)
    out: np.ndarray = np.empty(n, dtype=np.uint8)
    pos = 0
    for chunk in chunks:
        if out.dtype == np.uint8 and chunk.dtype != np.uint8 and chunk.size and \
                int(chunk.max()) > 255:
            need_memory(mask.path, 3 * n, what)  # both volumes while widening
            wide = np.empty(n, dtype=np.uint16)
            wide[:pos] = out[:pos]
            out = wide
        out[pos : pos + chunk.size] = chunk
        pos += chunk.size
    return out.reshape(mask.shape, order="F")


def read_nonzero(mask: MaskFile) -> tuple[np.ndarray, np.ndarray]:
    """Flat (Fortran-order) indices and SDK values of a later file's non-zero voxels.

    Indices are int32 when the volume allows it; a NIfTI file is streamed, so memory is
    its non-zero voxels and a few chunks.
    """
    itype = np.int32 if _voxels(mask) < 2**31 else np.int64
    if len(mask.shape) == 3 and mask.plain and mask.nifti is not None:
        cached = RUNS.get(mask.path)
        if cached is not None and cached.shape == mask.shape:
            idx, vals = cached.expand()  # the census already streamed this file
            return idx.astype(itype, copy=False), vals
    if len(mask.shape) == 3 and not mask.scaled and mask.nifti is not None:
        return _stream_nonzero(sdk_chunks(mask, 1 << 20, prefetch=False), itype)
    data = read_voxels(mask, False)
    flat = data.reshape(-1, order="F")
    nz = np.flatnonzero(flat).astype(itype, copy=False)
    return nz, flat[nz]


def read_runs(mask: MaskFile) -> Runs:
    """A later label map's non-zero voxels as runs (start, length, value) in file order, the
    SDK's values: a few hundred times smaller than their indices and values, which the
    merge expands a chunk at a time. The census's runs when it kept them."""
    shape = tuple(mask.shape)
    if len(mask.shape) == 3 and mask.plain and mask.nifti is not None:
        cached = RUNS.get(mask.path)
        if cached is not None and cached.shape == mask.shape:
            return cached
    if len(mask.shape) == 3 and not mask.scaled and mask.nifti is not None:
        chunks: Iterable[np.ndarray] = sdk_chunks(mask, 1 << 20, prefetch=False)
    else:
        flat = read_voxels(mask, False).reshape(-1, order="F")
        chunks = (flat[i : i + (1 << 20)] for i in range(0, flat.size, 1 << 20))
    starts, lengths, values = [], [], []
    offset = 0
    for chunk in chunks:
        at = nonzero_in(chunk)
        if at.size:
            s, n, v = chunk_runs(chunk, offset, at)
            starts.append(s)
            lengths.append(n)
            values.append(v)
        offset += chunk.size
    if not starts:
        return Runs(np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.uint16), shape)
    return Runs(np.concatenate(starts), np.concatenate(lengths), np.concatenate(values), shape)


def _stream_nonzero(chunks: Iterable[np.ndarray], itype: type[np.signedinteger]
                    ) -> tuple[np.ndarray, np.ndarray]:
    parts_idx: list[np.ndarray] = []
    parts_val: list[np.ndarray] = []
    offset = 0
    dtype: np.dtype = np.dtype(np.uint16)
    for chunk in chunks:
        dtype = chunk.dtype
        idx = nonzero_in(chunk)
        if idx.size:
            parts_val.append(chunk[idx])
            idx = idx.astype(itype, copy=False)
            idx += offset
            parts_idx.append(idx)
        offset += chunk.size
    if not parts_idx:
        return np.empty(0, dtype=itype), np.empty(0, dtype=dtype)
    return np.concatenate(parts_idx), np.concatenate(parts_val)


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
