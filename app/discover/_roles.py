"""Image or mask: what decides the role of a NIfTI or NRRD volume, strongest first.

(A NIfTI file Segmap wrote itself carries its mark and is neither: ``Role.output``.)

1. its folder and its name (:func:`app.discover._layouts.role_hint`): ``labelsTr/``,
   ``_seg``, ``_0000``, ``ct``; a mask-named folder that holds images says nothing
   (:func:`app.discover._layouts.mixed_folders`);
2. its header: NIfTI's label intent, a Slicer ``.seg.nrrd``, floating-point or scaled
   voxels (an image), one-byte voxels (a mask);
   One-byte voxels only lean towards a mask (``Role.tentative``): an 8-bit MR template or
   ultrasound is an image too. The scan settles such a volume from its census
   (:func:`census_role`: few values say mask; many values that vary like an image's say
   image), a label table beside it (mask) and the pairing (``case`` beside ``case_seg``:
   the image);
3. its values, when only a wider integer type (``short``, ``int32``) is left to say:
   dcmqi and Slicer save label maps as ``short``, like CT. A label map holds few whole
   values from 0 to 65535 and is piecewise constant (neighbours inside a structure
   share its value); an image's neighbours differ almost everywhere. The values are
   read in chunks until they decide, so an image usually costs its first chunk.

The user has the last word: a ``RoleOverride`` (``--image GLOB`` / ``--mask GLOB``, the
Cases page's Role column) comes before all of it, Segmap's own mark excepted.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.discover import _layouts as layouts
from app.errors import SegmapError
from app.geometry import Grid
from app.items import MAX_ID
from app.readers import (
    Census,
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
# One-byte volumes with fewer distinct values than this are label maps; with more, their
# neighbours decide (an 8-bit image holds 100-256 grey levels; TotalSegmentator's uint8
# label map 117 labels, piecewise constant).
_IMAGE_VALUES_MIN = 64
# Names of the 8-bit images research shares (MR templates), beside the image words of
# :mod:`app.discover._layouts`.
_TEMPLATE_WORDS = ("template",)


@dataclass(frozen=True)
class RoleOverride:
    """The user's word on the role of the files ``pattern`` matches: a glob (or the exact
    path) matched against the path relative to the scanned folder (POSIX separators)."""

    pattern: str
    role: str  # "image" | "mask"

    def __post_init__(self) -> None:
        if self.role not in ("image", "mask"):
            raise ValueError(f"role {self.role!r} is neither 'image' nor 'mask'")

    @property
    def said(self) -> str:
        """How the CLI spells it: ``--image 'scans/*.nii.gz'``."""
        return f"--{self.role} '{self.pattern}'"

    def matches(self, rel: str) -> bool:
        return rel == self.pattern or fnmatch.fnmatchcase(rel, self.pattern)


def override_for(rel: str, overrides: Sequence[RoleOverride]) -> RoleOverride | None:
    """The last override that matches ``rel`` (a later word wins), else None."""
    return next((o for o in reversed(overrides) if o.matches(rel)), None)


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
    tentative: bool = False  # only one-byte voxels said mask: the census settles it


def volume_role(path: Path, root: Path, mixed: Collection[Path] = (),
                override: RoleOverride | None = None) -> Role:
    """The role of one NIfTI or NRRD file (see the module docstring for the order)."""
    role: str | None
    if override is not None:
        role, why = override.role, f"set by you ({override.said})"
    else:
        role, why = layouts.role_hint(path, root, mixed)
        if role is None and (word := next((t for t in layouts.parse_name(path).tokens
                                           if t in _TEMPLATE_WORDS), None)):
            role, why = "image", f"'{word}' in the name"
    r = _volume_role(path, role, why)
    if r.why == f"{r.dtype} voxels" and r.role == "mask" and r.dtype in _ONE_BYTE:
        return Role(r.role, r.why, r.grid, r.dtype, r.info, r.error, r.output, tentative=True)
    return r


def _volume_role(path: Path, role: str | None, why: str) -> Role:
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
    if role is None and path.name.lower().endswith(".seg.nrrd"):
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


def census_role(c: Census, chunks: Callable[[], Iterable[np.ndarray]]) -> tuple[str, str]:
    """(role, why) of a one-byte volume from its census: few distinct values say a label
    map; many say an image unless its neighbours share values like a label map's
    (``chunks`` streams its voxels; an image's stop at the first chunk)."""
    values = sorted(c.values)
    total = sum(c.values.values()) or 1
    zero = 100.0 * c.values.get(0, 0) / total
    spread = (f"{c.dtype}, {len(values)} distinct values over "
              f"{value_text(values[0])}..{value_text(values[-1])}, {zero:.0f}% zeros"
              if values else f"{c.dtype}, no voxels")
    if c.flags:
        return "image", f"{spread}, {', '.join(c.flags)} values: an image's"
    if len(values) < _IMAGE_VALUES_MIN:
        return "mask", f"{spread}: few values, a label map's"
    if label_values(chunks()) is None:
        return "image", f"{spread}: many values that vary like an image's"
    return "mask", f"{spread}: many values, but piecewise constant like a label map's"


def volume_chunks(path: Path, info: NiftiInfo | None) -> Iterator[np.ndarray]:
    """The voxels of a NIfTI (its header read) or NRRD volume, in chunks in file order."""
    return _nifti_chunks(info) if info is not None else _nrrd_chunks(path)
