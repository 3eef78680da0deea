"""Label census: which values a mask holds, and how many voxels each.

The volume is never sorted (np.unique on 100M voxels takes seconds). It is
streamed in cache-sized chunks straight from the inflater; zeros, usually most of
a label map, are counted with one comparison, and the non-zero voxels with a
bincount over a small range. Memory stays at one chunk.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import nibabel as nib
import numpy as np

from app.errors import VolumeReadError
from app.readers import _nifti as niio
from app.readers import _runs as runs
from app.readers._formats import Format, volume_format
from app.readers._runs import Runs, chunk_runs
from app.readers._volumes import is_dicom_seg, is_rtstruct, mask_as_nifti, seg_as_nifti


class ValueFlag(StrEnum):
    """What is unusual about a mask's values (validation turns each into a finding)."""

    NON_INTEGER = "non-integer"
    NEGATIVE = "negative"
    OVER_UINT16 = "over-65535"
    NON_FINITE = "non-finite"


_DENSE_RANGE = 1 << 17  # integer ranges up to this size are counted with bincount


@dataclass(frozen=True)
class Census:
    """The values of one mask file and their voxel counts (0 included)."""

    file: Path
    shape: tuple[int, ...]
    dtype: str
    affine: np.ndarray = field(repr=False)
    zooms: tuple[float, ...]
    values: dict[float, int]
    flags: tuple[ValueFlag, ...] = ()

    @property
    def nonzero(self) -> dict[float, int]:
        """Counts of every value except 0."""
        return {v: n for v, n in self.values.items() if v != 0}

    @property
    def binary(self) -> bool:
        """True when the mask holds at most one non-zero value."""
        return len(self.nonzero) <= 1

    @property
    def empty(self) -> bool:
        """True when every voxel is 0."""
        return not self.nonzero

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (from the header's voxel size)."""
        zooms = self.zooms[:3]
        return float(math.prod(zooms)) / 1000.0 if len(zooms) == 3 else 0.0

    def to_json(self) -> dict[str, object]:
        """The census as the CLI prints it."""
        return {
            "file": str(self.file),
            "shape": list(self.shape),
            "dtype": self.dtype,
            "values": {value_text(v): n for v, n in sorted(self.values.items())},
            "binary": self.binary,
            "flags": list(self.flags),
        }


def value_text(value: float) -> str:
    """A label value as text: ``3`` for whole numbers, ``2.5`` otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Tally:
    """Accumulates value counts chunk by chunk."""

    def __init__(self) -> None:
        self.counts: dict[float, int] = {}
        self.flags: set[ValueFlag] = set()

    def add(self, values: np.ndarray, counts: np.ndarray) -> None:
        for v, n in zip(values.tolist(), counts.tolist(), strict=True):
            self.counts[v] = self.counts.get(v, 0) + int(n)

    def add_integers(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count integer ``values`` (each ``weights`` times, when given)."""
        lo, hi = int(values.min()), int(values.max())
        if lo < 0:
            self.flags.add(ValueFlag.NEGATIVE)
        if hi > 65535:
            self.flags.add(ValueFlag.OVER_UINT16)
        if hi - lo < _DENSE_RANGE and hi < 2**62:
            shifted = values.astype(np.int64) - lo if lo else values
            hist = np.bincount(shifted, weights=weights, minlength=hi - lo + 1)
            idx = np.flatnonzero(hist)
            self.add(idx + lo, np.rint(hist[idx]).astype(np.int64))
        elif weights is None:
            self.add(*np.unique(values, return_counts=True))
        else:
            uniq, inverse = np.unique(values, return_inverse=True)
            self.add(uniq, np.bincount(inverse.ravel(), weights=weights).astype(np.int64))

    def add_floats(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        if not finite.all():
            self.flags.add(ValueFlag.NON_FINITE)
            self.add(*np.unique(values[~finite], return_counts=True))
            values = values[finite]
            if not values.size:
                return
        rounded = np.rint(values)
        if (rounded == values).all() and -(2.0**62) < rounded.min() and rounded.max() < 2.0**62:
            self.add_integers(rounded.astype(np.int64))
            return
        self.flags.add(ValueFlag.NON_INTEGER)
        if values.min() < 0:
            self.flags.add(ValueFlag.NEGATIVE)
        if values.max() > 65535:
            self.flags.add(ValueFlag.OVER_UINT16)
        self.add(*np.unique(values, return_counts=True))


def _runs(chunk: np.ndarray, scratch: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Run-length encode a 1-D chunk: (value of each run, its length, its last index).

    Label maps are piecewise constant, so a chunk of a million voxels holds a few
    thousand runs and counting runs is several times cheaper than counting voxels.
    Returns None when the chunk is too noisy for that to pay.
    """
    n = chunk.size
    changed = np.not_equal(chunk[1:], chunk[:-1], out=scratch[: n - 1])
    ends = np.flatnonzero(changed)
    if ends.size > n // 8:
        return None
    ends = np.append(ends, n - 1)
    return chunk[ends], np.diff(ends, prepend=-1), ends


def _binary(chunk: np.ndarray) -> bool:
    """Whether an integer chunk holds only 0 and 1 (two reductions, 12 us a million voxels,
    where finding its non-zero voxels to count their values takes 130 us)."""
    return bool(chunk.max() == 1) and (chunk.dtype.kind == "u" or bool(chunk.min() >= 0))


def tally_chunks(chunks: Iterable[np.ndarray], record: list[tuple[np.ndarray, ...]] | None = None
                 ) -> _Tally:
    """Count the values of 1-D chunks (the streaming core of the census).

    With ``record``, the non-zero runs of integer chunks are appended to it as
    (starts, lengths, values) with starts counted from the first chunk.
    """
    t = _Tally()
    scratch = np.empty(0, dtype=bool)
    zeros = 0
    offset = 0
    for chunk in chunks:
        here, offset = offset, offset + chunk.size
        nonzero = int(np.count_nonzero(chunk))
        zeros += chunk.size - nonzero
        if not nonzero:
            continue
        if chunk.dtype.kind not in "iu":
            record = None  # only integer label maps are kept as runs
            t.add_floats(chunk[chunk != 0].astype(np.float64, copy=False))
            continue
        if record is None and _binary(chunk):  # a binary mask's chunk: no voxel to look at
            t.counts[1] = t.counts.get(1, 0) + nonzero
            continue
        if scratch.size < chunk.size:
            scratch = np.empty(chunk.size, dtype=bool)
        runs = _runs(chunk, scratch) if nonzero * 16 > chunk.size else None
        if runs is not None:
            values, lengths, ends = runs
            keep = values != 0
            t.add_integers(values[keep], lengths[keep].astype(np.float64))
            if record is not None:
                kept = lengths[keep]
                record.append((ends[keep] - kept + (1 + here), kept.astype(np.int32),
                               values[keep]))
        else:
            at = niio.nonzero_in(chunk)
            t.add_integers(chunk[at])
            if record is not None:
                record.append(chunk_runs(chunk, here, at))
    if zeros:
        t.counts[0] = t.counts.get(0, 0) + zeros
    return t


def census(path: str | os.PathLike[str], info: niio.NiftiInfo | None = None,
           keep_runs: bool = True) -> Census:
    """Census one mask file (NIfTI streamed; NRRD through its NIfTI conversion; a DICOM SEG
    as the NIfTI RedBrick's SDK stores for it, values = segment numbers).

    Values are those a reader sees: when a NIfTI header sets scl_slope / scl_inter
    they are applied, as nibabel and RedBrick's SDK apply them.
    """
    if info is None and volume_format(path) is Format.NRRD:
        return _image_census(Path(path), mask_as_nifti(path))
    if info is None and is_dicom_seg(path):
        return _image_census(Path(path), seg_as_nifti(path))
    if info is None and is_rtstruct(path):
        raise VolumeReadError(
            f"{path} is an RT Structure Set: contours, which are filled on the series they "
            "were drawn on, so it has no values of its own.",
            "Validate the items list that pairs it with its series (`segmap validate "
            "ITEMS.json`), or scan the folder holding both (`segmap scan FOLDER`).")
    info = info or niio.nifti_info(path)
    chunks: Iterable[np.ndarray] = niio.iter_raw(info)
    if info.scaled:
        slope, inter = info.slope or 1.0, info.inter or 0.0
        chunks = (c.astype(np.float64) * slope + inter for c in chunks)
    # The runs of a plain uint8/uint16 label map are kept for the merge (``RUNS``).
    record: list[tuple[np.ndarray, ...]] | None = (
        [] if keep_runs and not info.scaled and info.dtype.kind == "u" and info.dtype.itemsize <= 2
        else None)
    with np.errstate(over="ignore", invalid="ignore"):  # a huge scl_slope overflows to inf:
        t = tally_chunks(chunks, record)  # counted and flagged non-finite, not warned about
    if record is not None:
        runs.RUNS.put(info.path, Runs(
            np.concatenate([r[0] for r in record]) if record else np.empty(0, np.int64),
            np.concatenate([r[1] for r in record]) if record else np.empty(0, np.int32),
            np.concatenate([r[2] for r in record]) if record
            else np.empty(0, info.dtype.newbyteorder("=")),
            info.shape))
    values = t.counts
    return Census(
        file=info.path,
        shape=info.shape,
        dtype=info.dtype.name,
        affine=info.affine,
        zooms=info.zooms,
        values=dict(sorted(values.items(), key=lambda kv: (np.isnan(kv[0]), kv[0]))),
        flags=tuple(sorted(t.flags)),
    )


def _image_census(path: Path, img: nib.Nifti1Image) -> Census:
    """The census of a mask held as a NIfTI image in memory (an NRRD mask's conversion, a
    DICOM SEG's SDK volume): the values of that image."""
    data = np.asanyarray(img.dataobj)
    t = tally_chunks([data.reshape(-1, order="F")])  # a view: the volume is Fortran-ordered
    return Census(
        file=path,
        shape=tuple(int(n) for n in data.shape),
        dtype=data.dtype.name,
        affine=np.asarray(img.affine, dtype=np.float64),
        zooms=tuple(float(z) for z in img.header.get_zooms()[:3]),
        values=dict(sorted(t.counts.items(), key=lambda kv: (np.isnan(kv[0]), kv[0]))),
        flags=tuple(sorted(t.flags)),
    )
