"""Image or mask: what decides the role of a NIfTI or NRRD volume, strongest first.

(A NIfTI file Segmap wrote itself carries its mark and is neither: ``Role.output``.)

1. its folder and its name (:func:`app.discover._layouts.role_hint`): ``labelsTr/``,
   ``_seg``, ``_0000``, ``ct``; a mask-named folder that holds images says nothing
   (:func:`app.discover._layouts.mixed_folders`);
2. its header: NIfTI's label intent, a Slicer ``.seg.nrrd``, floating-point or scaled
   voxels (an image), one-byte voxels (a mask);
3. its values, when only a wider integer type (``short``, ``int32``) is left to say:
   dcmqi and Slicer save label maps as ``short``, like CT. A label map holds few whole
   values from 0 to 65535 and is piecewise constant (neighbours inside a structure
   share its value); an image's neighbours differ almost everywhere. The values are
   read in chunks until they decide, so an image usually costs its first chunk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.discover import _layouts as layouts
from app.errors import SegmapError
from app.geometry import Grid
from app.items import MAX_ID
from app.readers import (
    Format,
    NiftiInfo,
    iter_raw,
    nifti_info,
    nrrd_info,
    read_nrrd,
    value_text,
    volume_format,
)

_LABEL_INTENT = 1002  # NIFTI_INTENT_LABEL
_ONE_BYTE = ("uchar", "unsigned char", "uint8", "uint8_t", "signed char", "int8", "int8_t")
# A label map holds at most this many distinct values (TotalSegmentator 117, FreeSurfer's
# aseg about 100) ...
_LABEL_VALUES_MAX = 1000
# ... and at most this share of neighbouring foreground voxels (along the fastest axis)
# differ: real label maps measure <= 0.01, real CT and MR >= 0.96.
_LABEL_CHANGES_MAX = 0.2
_DECIDE_AFTER = 10_000  # foreground neighbour pairs enough to call a volume an image early
_CHUNK_VOXELS = 1 << 20


@dataclass(frozen=True)
class Role:
    """The role of a volume file and what decided it."""

    role: str  # "image" | "mask"
    why: str
    grid: Grid | None
    dtype: str
    info: NiftiInfo | None = None  # the NIfTI header, kept for the census
    error: str | None = None
    output: str = ""  # what Segmap wrote the file as (its mark): left out of the scan


def volume_role(path: Path, root: Path, mixed: Collection[Path] = ()) -> Role:
    """The role of one NIfTI or NRRD file (see the module docstring for the order)."""
    role, why = layouts.role_hint(path, root, mixed)
    if volume_format(path) is Format.NIFTI:
        try:
            info = nifti_info(path)
        except SegmapError as exc:
            return Role(role or "mask", why, None, "", error=exc.message)
        grid = Grid.of(info.shape, info.affine)
        if info.segmap_output:
            return Role("mask", "Segmap's mark", grid, info.dtype.name, output=info.segmap_output)
        if role is None:
            role, why = _nifti_header_role(info)
            if role is None:
                role, why = _by_values(_nifti_chunks(info), info.dtype.name)
        return Role(role, why, grid, info.dtype.name, info)
    if path.name.lower().endswith(".seg.nrrd"):
        role, why = "mask", "Slicer .seg.nrrd"
    try:
        nrrd = nrrd_info(path)
    except SegmapError as exc:
        return Role(role or "mask", why, None, "", error=exc.message)
    dtype = str(nrrd.header.get("type", "")).lower()
    if role is None:
        if dtype in _ONE_BYTE:
            role, why = "mask", f"{dtype} voxels"
        elif dtype.startswith(("float", "double")):
            role, why = "image", f"{dtype} voxels"
        else:
            try:
                role, why = _by_values(_nrrd_chunks(path), dtype)
            except SegmapError as exc:
                return Role("mask", f"{dtype} voxels", nrrd.grid, dtype, error=exc.message)
    return Role(role, why, nrrd.grid, dtype)


def _nifti_header_role(info: NiftiInfo) -> tuple[str | None, str]:
    if int(info.header.get("intent_code", 0)) == _LABEL_INTENT:
        return "mask", "NIfTI intent: label map"
    if info.dtype.kind == "f" or info.scaled:
        return "image", f"{info.dtype.name} voxels"
    if info.dtype.itemsize == 1 or info.dtype.kind == "b":
        return "mask", f"{info.dtype.name} voxels"
    if info.dtype.kind not in "iu":
        return "image", f"{info.dtype.name} voxels"
    return None, ""


def _nifti_chunks(info: NiftiInfo) -> Iterator[np.ndarray]:
    return iter_raw(info, _CHUNK_VOXELS * info.dtype.itemsize, prefetch=False)


def _nrrd_chunks(path: Path) -> Iterator[np.ndarray]:
    data, _ = read_nrrd(path)  # pynrrd reads the whole file
    flat = data.reshape(-1, order="F")
    for start in range(0, flat.size, _CHUNK_VOXELS):
        yield flat[start:start + _CHUNK_VOXELS]


def _by_values(chunks: Iterable[np.ndarray], dtype: str) -> tuple[str, str]:
    """("mask", why) for a label map's values, else ("image", why)."""
    values = label_values(chunks)
    if values is None:
        return "image", f"{dtype} voxels that vary like an image's"
    shown = ", ".join(value_text(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
    return "mask", f"{dtype} voxels with a label map's values ({shown}), piecewise constant"


def label_values(chunks: Iterable[np.ndarray]) -> list[int] | None:
    """The distinct values of a volume streamed as 1-D chunks in file order, when they are a
    label map's (few whole values in 0..65535, piecewise constant); None as soon as they
    are not (negative, fractional, too many, or neighbours that differ like an image's)."""
    seen = np.zeros(MAX_ID + 1, dtype=bool)
    pairs = changes = 0
    last: np.ndarray | None = None  # the previous chunk's last voxel: runs cross chunks
    for chunk in chunks:
        if not chunk.size:
            continue
        if chunk.dtype.kind == "f":
            if not np.isfinite(chunk).all() or (np.rint(chunk) != chunk).any():
                return None
        elif chunk.dtype.kind not in "iu":
            return None
        if chunk.min() < 0 or chunk.max() > MAX_ID:
            return None
        seen[chunk if chunk.dtype.kind in "iu" else chunk.astype(np.int64)] = True
        if np.count_nonzero(seen) > _LABEL_VALUES_MAX:
            return None
        run = chunk if last is None else np.concatenate([last, chunk])
        both = (run[1:] != 0) & (run[:-1] != 0)
        pairs += int(np.count_nonzero(both))
        changes += int(np.count_nonzero(both & (run[1:] != run[:-1])))
        if pairs >= _DECIDE_AFTER and changes > _LABEL_CHANGES_MAX * pairs:
            return None
        last = chunk[-1:].copy()
    if changes > _LABEL_CHANGES_MAX * max(pairs, 1):
        return None
    return [int(v) for v in np.flatnonzero(seen)]
