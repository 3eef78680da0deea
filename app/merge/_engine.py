"""Merge the segmentation files of one series exactly as RedBrick will store them.

This re-implements ``redbrick.utils.nifti.process_upload`` of redbrick-sdk 2.35.4
(reference redbrick.md §3.4) voxel for voxel, in the SDK's steps:

1. check the inputs (files exist, masks are paths, one file per instance in
   binary mode; PNG masks are converted);
2. read the base file (the first) and the overlap groups the segmentMap declares;
3. read every later file, keeping only its non-zero voxels;
4. prune and validate (``prune`` and ``label_validate``, the SDK's flags);
5. merge each later file into the base: voxels claimed by more than one instance
   become an overlap group whose id is the smallest unused positive integer;
   binary mode writes each mask file's non-zero voxels as the instance whose
   ``mask`` names it;
6. the result: uint8 when its largest value is below 256, else uint16, with the
   segment map. Differential tests run the SDK on the same inputs and compare.

What differs, on purpose:

* a file whose shape differs from the base file is refused with both shapes
  named (the SDK merges a smaller file silently into a corner of the volume, and
  fails on a larger one with a numpy indexing message);
* when uint8 masks end with ids above 255, the result is written as uint16 (the
  SDK writes it as uint8 with a scale factor, which corrupts every label);
* NRRD masks are merged as the NIfTI images Segmap converts them to;
* it is fast: masks are inflated with ISA-L, only their non-zero voxels are kept,
  and overlap pairs are found with dense lookup tables instead of sorting.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import nibabel as nib
import numpy as np

from app.errors import MergeError
from app.jsonio import file_kind
from app.merge._read import (
    MaskFile,
    need_memory,
    open_mask,
    png_mask,
    png_volume,
    read_nonzero,
    read_runs,
    read_voxels,
    shape_text,
)
from app.progress import Progress, Work, run
from app.readers import NiftiHeader, Runs, save_nifti, tally_chunks

_T = TypeVar("_T")
Instances = Mapping[int, Sequence[int] | None]
MaskPaths = Mapping[str, str | Sequence[str]]


@dataclass
class MergeResult:
    """The label volume RedBrick receives for one series, and its segment map.

    ``segments`` maps every instance id that has voxels to its overlap group ids
    (None when it overlaps nothing). ``source`` is set when RedBrick would upload
    the original file unchanged (a single uint8 NIfTI file needing no rewrite).
    ``volume`` is None when pruning left nothing: RedBrick then skips the labels.
    """

    volume: np.ndarray | None
    affine: np.ndarray | None
    header: NiftiHeader | None
    segments: dict[int, list[int] | None]
    source: Path | None = None
    files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing is left to upload (prune removed every value)."""
        return self.volume is None

    def image(self) -> nib.Nifti1Image | nib.Nifti2Image:
        """The merged volume as a NIfTI image with the base file's header and affine."""
        if self.volume is None or self.header is None:
            raise MergeError("The merge left no labels (every value was pruned).")
        cls = nib.Nifti2Image if isinstance(self.header, nib.Nifti2Header) else nib.Nifti1Image
        return cls(self.volume, self.affine, self.header)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the merged volume as NIfTI (atomically), marked as Segmap's output so a scan
        of its folder leaves it out."""
        return save_nifti(self.image(), path, what="merged label volume")

    def segments_json(self) -> dict[str, list[int] | None]:
        """The segment map with text keys, sorted, as the CLI prints it."""
        return {str(k): (sorted(v) if v else None) for k, v in sorted(self.segments.items())}


def _shape_error(path: str, shape: Sequence[int], base_path: str, base_shape: Sequence[int]
                 ) -> MergeError:
    larger = any(a > b for a, b in zip(shape, base_shape, strict=False))
    return MergeError(
        f"{path} is {shape_text(shape)} but the first segmentation file {base_path} is "
        f"{shape_text(base_shape)}; RedBrick would "
        + ("fail on it." if larger else "merge it silently into a corner of the volume."),
        "Every segmentation of a series must have the image's grid; resample the mask.",
    )


def _write(flat: np.ndarray, where: np.ndarray | slice, value: int) -> None:
    """flat[where] = value, with the SDK's outcome for an id numpy cannot store."""
    try:
        flat[where] = value
    except OverflowError as exc:
        raise MergeError(f"Instance id {value} is outside 1..65535; RedBrick cannot store it.",
                         "Use instance ids from 1 to 65535.", sdk_message=str(exc)) from None


def _as_uint16(values: list[int]) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.uint16)
    except OverflowError as exc:
        raise MergeError("An instance id is outside 1..65535; RedBrick cannot store it.",
                         "Use instance ids from 1 to 65535.", sdk_message=str(exc)) from None


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) for uint16 data, without sorting."""
    counts = np.bincount(values, minlength=1)
    present = np.flatnonzero(counts)
    rank = np.zeros(counts.size, dtype=np.intp)
    rank[present] = np.arange(present.size)
    return present, rank[values]


def _pairs_inverse(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique (a, b) pairs in lexicographic order and each element's pair index."""
    ua, ia = _unique_inverse(a)
    ub, ib = _unique_inverse(b)
    key = ia * ub.size + ib
    n = ua.size * ub.size
    if n <= 1 << 24:
        counts = np.bincount(key, minlength=n)
        present = np.flatnonzero(counts)
        rank = np.zeros(n, dtype=np.intp)
        rank[present] = np.arange(present.size)
        inverse = rank[key]
    else:
        present, inverse = np.unique(key, return_inverse=True)
    pairs = np.column_stack([ua[present // ub.size], ub[present % ub.size]])
    return pairs, inverse.ravel()


_CHUNK = 1 << 20  # voxels: whole-volume passes go chunk by chunk, so temporaries stay small


def _chunks(flat: np.ndarray) -> Iterator[np.ndarray]:
    """Writable 1-D views of ``flat``, in order."""
    return (flat[i : i + _CHUNK] for i in range(0, flat.size, _CHUNK))


def _fill_nonzero(flat: np.ndarray, value: int) -> None:
    """flat[flat != 0] = value, chunk by chunk (no index array the size of the mask)."""
    if not flat.size:
        _write(flat, slice(0, 0), value)  # the SDK's error for an id numpy cannot store
    for chunk in _chunks(flat):
        _write(chunk, chunk != 0, value)


def _zero_values(flat: np.ndarray, drop: np.ndarray) -> None:
    """flat[np.isin(flat, drop)] = 0, chunk by chunk."""
    for chunk in _chunks(flat):
        hit = np.isin(chunk, drop)
        if hit.any():
            chunk[hit] = 0


def _read_ahead(pool: ThreadPoolExecutor, fn: Callable[[str], _T], items: Sequence[str],
                ahead: int) -> Iterator[_T]:
    """``pool.map(fn, items)`` with at most ``ahead`` results waiting: ``map`` submits
    every item at once, and finished files' voxels would pile up while the merge lags."""
    pending: deque[Future[_T]] = deque(pool.submit(fn, x) for x in items[:ahead])
    rest = iter(items[ahead:])
    while pending:
        got = pending.popleft().result()
        for x in rest:
            pending.append(pool.submit(fn, x))
            break
        yield got


def _run_blocks(runs: Runs, voxels: int) -> list[Runs]:
    """The runs in consecutive blocks of about ``voxels`` voxels each (long runs split)."""
    lengths = runs.lengths
    if lengths.size and int(lengths.max()) > voxels:
        pieces = (lengths.astype(np.int64) + voxels - 1) // voxels
        which = np.repeat(np.arange(lengths.size), pieces)
        within = np.arange(which.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        runs = Runs(runs.starts[which] + within * voxels,
                    np.minimum(voxels, lengths[which] - within * voxels).astype(np.int32),
                    runs.values[which], runs.shape)
    ends = np.cumsum(runs.lengths, dtype=np.int64)
    cuts = np.searchsorted(ends, np.arange(voxels, int(ends[-1]) if ends.size else 0, voxels))
    bounds = [0, *np.unique(cuts).tolist(), runs.lengths.size]
    return [Runs(runs.starts[a:b], runs.lengths[a:b], runs.values[a:b], runs.shape)
            for a, b in pairwise(bounds) if b > a]


def _expanded(blocks: list[Runs]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat indices, values) of each block's voxels, one block at a time."""
    return (block.expand() for block in blocks)


def _final_values(flat: np.ndarray) -> set[int]:
    # Counting runs (the census core) instead of np.unique over the whole volume.
    chunks = _chunks(flat)
    # Inserted in ascending order, as the SDK's set(np.unique(...)), so that set
    # iteration (which orders the overlap group lists) matches it.
    return set(sorted(int(v) for v in tally_chunks(chunks).counts if v != 0))


def _check_files(files: list[str]) -> None:
    missing = [f for f in files if not isinstance(f, str) or not os.path.exists(f)]
    if not files or missing:
        raise MergeError(
            "Segmentation file not found: " + ", ".join(map(str, missing))
            if missing else "The series lists no segmentation files.",
            "Check the paths in `segmentations` (relative paths start at the items list's folder).",
            sdk_message="Files do not exist",
        )
    for f in files:
        if not os.path.isfile(f):  # a folder, a FIFO, a device: the SDK says they do not exist
            raise MergeError(
                f"{f} is {file_kind(os.stat(f).st_mode)}, not a segmentation file.",
                "Segmap reads only regular files; give the path of the mask file itself.",
                sdk_message="Files do not exist",
            )


def _reverse_masks(masks: MaskPaths) -> dict[str, tuple[int, ...]]:
    """Mask path -> the instance ids naming it (the SDK's ``reverse_masks``)."""
    out: dict[str, tuple[int, ...]] = {}
    for inst_id, mask in masks.items():
        if not isinstance(mask, str):
            # The SDK hashes each mask path: a list (an MHD pair, converted only with
            # --mhd) raises there, and the task fails after its retries.
            raise MergeError(
                f"The `mask` of instance {inst_id} is a list ({', '.join(map(str, mask))}); "
                "RedBrick's merge takes one path per instance and fails on it.",
                "Write the mask as one NIfTI path (\"mask\": \"file.nii.gz\"); a list is only "
                "for MHD pairs uploaded with the RedBrick CLI's --mhd.",
                sdk_message="unhashable type: 'list'")
        out[mask] = out.get(mask, ()) + (int(inst_id),)
    return out


def _check_binary(reverse: dict[str, tuple[int, ...]], binary_mask: bool) -> None:
    if not binary_mask:
        raise MergeError(
            "pngMask is set without binaryMask; RedBrick only accepts PNG masks as binary masks.",
            "Set binaryMask: true as well.",
            sdk_message="PNG mask upload only supports binary masks",
        )
    for mask, ids in reverse.items():
        if len(ids) > 1:
            raise MergeError(
                f"The mask file {mask} is used by instances {', '.join(map(str, ids))}; "
                "in binaryMask mode one file is one instance.",
                "Give each instance its own mask file.",
                sdk_message=f"Binary mask upload only supports single instance per file: "
                f"'{mask}'",
            )


class _Restart(Exception):
    """A label map merged as it was read took an id a later file holds (``_optimistic``)."""


class _Merge:
    """The state of one merge, step by step (see the module docstring)."""

    def __init__(self, files: list[str], instances: Instances, binary_mask: bool,
                 png_mask: bool, masks: MaskPaths, label_validate: bool, prune: bool,
                 eager_labels: bool = True) -> None:
        # Step 1: the inputs, checked in the SDK's order.
        _check_files(files)
        self.reverse = _reverse_masks(masks)
        self.pngs: dict[str, MaskFile] = {}
        if binary_mask or png_mask:
            _check_binary(self.reverse, binary_mask)
            if png_mask:  # the SDK converts each PNG and merges the conversions instead
                for mask in list(self.reverse):
                    self.pngs[mask + ".nii.gz"] = png_mask_file(mask)
                    self.reverse[mask + ".nii.gz"] = self.reverse.pop(mask)
                files = list(self.reverse)
        self.files = files
        self.binary = binary_mask
        self.validate_ids, self.prune = label_validate, prune
        self._groups(instances)
        self.file_instances: set[int] = set()
        self.file_excess: set[int] = set()
        self.mask_data: list[tuple[np.ndarray, int] | Runs] = []  # binary | label map
        self.merged_later = False  # a later file's voxels were kept (mask_data) or merged
        self.deferred: MergeError | None = None  # a merge error raised after step 4
        self.eager_labels = eager_labels
        self.allocated: set[int] = set()  # overlap group ids taken from the free ids

    def _open(self, path: str) -> MaskFile:
        return self.pngs[path] if path in self.pngs else open_mask(path)

    def _groups(self, instances: Instances) -> None:
        """Step 2b: the overlap groups the segmentMap declares."""
        self.group_map: dict[int, set[int]] = {}
        self.map_instances: set[int] = set()
        self.reverse_map: dict[tuple[int, ...], int] = {}
        for inst, groups in instances.items():
            self.map_instances.add(inst)
            self.reverse_map[(inst,)] = inst
            if groups:
                self.map_instances.update(groups)
                for g in groups:
                    self.group_map.setdefault(g, set()).add(inst)
        if not self.group_map:
            return
        if common := set(instances) & set(self.group_map):
            raise MergeError(
                f"Ids {sorted(common)} are used both as instance ids and as overlap group ids.",
                "Renumber the overlappingGroups so no group id is also a segmentMap key.",
                sdk_message=f"Found common instance and group ids: {common}",
            )
        for g, members in self.group_map.items():
            self.reverse_map[tuple(sorted(members))] = g

    def read_base(self) -> None:
        """Step 2a: the first file, which gives the header, affine and shape."""
        first = self._open(self.files[0])
        base = read_voxels(first, True)
        self.header = first.header.copy()
        self.affine = first.affine
        self.base_dtype = first.dtype
        # A converted file (NRRD) is never uploaded as it is: its NIfTI conversion is.
        self.base_is_file = first.nifti is not None
        if not first.exact_dtype:
            self.header.set_data_dtype(np.uint16)
        self.base = np.asfortranarray(base)
        self.base_flat = self.base.reshape(-1, order="F")
        if self.binary:
            if self.files[0] in self.reverse:
                inst = self.reverse[self.files[0]][0]
                self.widen(inst)
                _fill_nonzero(self.base_flat, inst)
                self.file_instances.add(inst)
        else:
            self.file_instances.update(_final_values(self.base_flat))
        self.final_instances = set(self.file_instances)

    def widen(self, value: int) -> None:
        """The SDK merges in uint16; a uint8 base works the same until a value above 255
        must be written, and then becomes uint16 (saves a copy and a cast)."""
        if self.base.dtype == np.uint8 and value > 255:
            need_memory(self.files[0], 3 * self.base.size, "the merged uint16 volume")
            self.base = self.base.astype(np.uint16, order="F")
            self.base_flat = self.base.reshape(-1, order="F")

    def _later_mask(self, path: str) -> MaskFile:
        mask = self._open(path)
        if len(mask.shape) == 3 and mask.shape != self.base.shape:
            raise _shape_error(path, mask.shape, self.files[0], self.base.shape)
        return mask

    def _nonzero_of(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """A binary mask's non-zero voxels (flat indices and values)."""
        return read_nonzero(self._later_mask(path))

    def _runs_of(self, path: str) -> Runs:
        """A label map's non-zero voxels as runs."""
        return read_runs(self._later_mask(path))

    def _pool_known(self) -> bool:
        """True when the ids free for overlap groups are known before the later files are
        read: binary masks whose instances are all in the segmentMap. Each file can then
        be merged as soon as it is read, instead of keeping every file's voxels until the
        last one is read (the SDK's order), with the same result."""
        return self.binary and all(set(self.reverse[f]) <= self.map_instances
                                   for f in self.files if f in self.reverse)

    def _optimistic(self) -> bool:
        """True when label maps may be merged as they are read, on the bet that no later
        file holds a value the merge has already given to an overlap group (the SDK keeps
        every file's values out of the free ids); ``_Restart`` when one does. Not with
        --prune or --label-validate, which need every file's values before any merge."""
        return self.eager_labels and not self.binary and not self.prune and \
            not self.validate_ids

    def _take(self, nz: np.ndarray | Runs, inst: int = 0) -> None:
        """Merge one later file now (a binary mask's voxels, or a label map's runs); a merge
        error waits (the SDK reads every file, and checks the labels, first)."""
        if self.deferred is None:
            try:
                if isinstance(nz, Runs):
                    self._merge_runs(nz)
                else:
                    self._merge_one(nz, inst)
            except MergeError as exc:
                self.deferred = exc

    def read_later(self, total: int) -> Work[None]:
        """Step 3: the later files' non-zero voxels (flat Fortran indices) and values.

        They are read on a small thread pool (inflating releases the GIL), a few files
        ahead, and used in order: kept for step 5, or merged at once (``_pool_known``,
        ``_optimistic``).
        """
        eager, labels = self._pool_known(), self._optimistic()
        if eager or labels:  # group members are in the segmentMap: the pool is the same
            self.instance_pool = set(range(1, 65536)) - self.map_instances - self.file_instances
        workers = min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                yield from (self._read_masks(pool, 2 * workers, eager, total) if self.binary
                            else self._read_labels(pool, workers, labels, total))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        for inst in list(self.file_instances):
            if inst in self.group_map:
                self.file_instances.update(self.group_map[inst])
        if not (eager or labels):
            self.instance_pool = set(range(1, 65536)) - self.map_instances - self.file_instances

    def _read_masks(self, pool: ThreadPoolExecutor, ahead: int, eager: bool, total: int
                    ) -> Work[None]:
        """Step 3 for binary masks: each file's non-zero voxels, merged or kept."""
        later = self.files[1:]
        for n, (path, (nz, _)) in enumerate(zip(
                later, _read_ahead(pool, self._nonzero_of, later, ahead), strict=True), start=1):
            yield Progress(n, total, f"Read {Path(path).name}")
            if nz.size and path in self.reverse:
                inst = self.reverse[path][0]
                self.file_instances.add(inst)
                self.merged_later = True
                if eager:
                    self._take(nz, inst)
                else:
                    self.mask_data.append((nz, inst))
            del nz

    def _read_labels(self, pool: ThreadPoolExecutor, ahead: int, labels: bool, total: int
                     ) -> Work[None]:
        """Step 3 for label maps: each file's runs, merged or kept."""
        later = self.files[1:]
        for n, (path, runs) in enumerate(zip(
                later, _read_ahead(pool, self._runs_of, later, ahead), strict=True), start=1):
            yield Progress(n, total, f"Read {Path(path).name}")
            if not runs.lengths.size:
                continue
            self.merged_later = True
            found = _final_values(runs.values)
            if labels:
                new = found - self.map_instances - self.file_instances
                if new & self.allocated:
                    raise _Restart  # an id the SDK would not have used
                self.instance_pool -= new
                self.file_instances.update(found)
                self._take(runs)
            else:
                self.file_instances.update(found)
                self.mask_data.append(runs)

    def prune_and_validate(self) -> None:
        """Step 4: --prune-segmentations and --label-validate, as the SDK applies them."""
        if self.prune:
            if excess := self.file_instances - self.map_instances:
                self.file_excess = excess
                _zero_values(self.base_flat, np.array(sorted(excess), dtype=np.uint16))
                self.file_instances -= excess
                self.final_instances -= excess
            self.map_instances &= self.file_instances
        if self.validate_ids and self.file_instances != self.map_instances:
            raise self._mismatch()

    def _mismatch(self) -> MergeError:
        only_files = sorted(self.file_instances - self.map_instances)
        only_map = sorted(self.map_instances - self.file_instances)
        parts = []
        if only_files:
            parts.append(f"values {only_files} are in the files but not in the segmentMap")
        if only_map:
            parts.append(f"segmentMap ids {only_map} are in no file")
        return MergeError(
            "With --label-validate the segmentation values and the segmentMap must match: "
            + "; ".join(parts) + ".",
            "Map every value, remove unused ids, or use --prune to drop the extras.",
            sdk_message=(
                "Instance IDs in segmentation file(s) and segmentMap do not match.\n"
                f"Segmentation file(s) have instances: {self.file_instances} and "
                f"segmentMap has instances: {self.map_instances}\n"
                f"Segmentation(s): {self.files}"
            ),
        )

    def merge_all(self) -> None:
        """Step 5: merge every later file into the base, in order (those not merged as they
        were read)."""
        if self.deferred is not None:
            raise self.deferred
        while self.mask_data:
            kept = self.mask_data.pop(0)  # each file's voxels freed once merged
            if isinstance(kept, Runs):
                self._merge_runs(kept)
                continue
            nz, inst = kept
            if inst not in self.file_excess:
                self._merge_one(nz, inst)

    def _pairs(self, basev: np.ndarray, maskv: int | np.ndarray
               ) -> tuple[Iterable[tuple[int, int]], np.ndarray, np.ndarray | None]:
        """The distinct (base, mask) value pairs in the SDK's order, each voxel's pair
        index, and (binary masks) which voxels overlap something."""
        if not isinstance(maskv, int):
            upairs, inverse = _pairs_inverse(basev, maskv)
            return ((int(b), int(m)) for b, m in upairs), inverse, None
        # Binary masks mostly fall on background: those voxels form the pair (0, mask),
        # which sorts first; only the overlapping ones need the unique-pair bookkeeping.
        # Same pairs, same order as the SDK.
        hit = np.flatnonzero(basev)
        if hit.size < basev.size:
            uniq, inverse = _unique_inverse(basev[hit])
            return [(0, maskv), *((int(b), maskv) for b in uniq)], inverse, hit
        uniq, inverse = _unique_inverse(basev)
        return ((int(b), maskv) for b in uniq), inverse, None

    def _merge_one(self, nz: np.ndarray, maskv: int | np.ndarray) -> None:
        pairs, inverse, overlap = self._pairs(self.base_flat[nz], maskv)
        new = _as_uint16([self._pair_value(b, m) for b, m in pairs])
        self.widen(int(new.max()) if new.size else 0)
        if overlap is None:
            self.base_flat[nz] = new[inverse]
        else:
            self.base_flat[nz] = new[0]  # the background pair
            if overlap.size:
                self.base_flat[nz[overlap]] = new[1:][inverse]

    def _merge_runs(self, runs: Runs) -> None:
        """Merge a label map given as runs, a chunk of voxels at a time, in passes: the
        values present, the distinct (base, mask) pairs in a dense table over them (the
        same pairs in the same order as ``_pairs_inverse``), then each voxel's new value.
        Memory: the runs and a chunk, not 32 bytes for each voxel of the file."""
        blocks = _run_blocks(runs, _CHUNK)
        bcount = np.zeros(65536, dtype=np.int64)
        for nz, _ in _expanded(blocks):
            bcount += np.bincount(self.base_flat[nz], minlength=65536)
        bvals = np.flatnonzero(bcount)
        mvals = np.unique(runs.values)
        n = bvals.size * mvals.size
        if n > 1 << 20:  # too many pairs for a table: the whole file at once
            nz, maskv = runs.expand()
            self._merge_one(nz, maskv)
            return
        rank_b = np.zeros(65536, dtype=np.intp)
        rank_b[bvals] = np.arange(bvals.size) * mvals.size
        rank_m = np.zeros(65536, dtype=np.intp)
        rank_m[mvals] = np.arange(mvals.size)
        seen = np.zeros(n, dtype=bool)
        for nz, maskv in _expanded(blocks):
            seen[rank_b[self.base_flat[nz]] + rank_m[maskv]] = True
        present = np.flatnonzero(seen)
        new = _as_uint16([self._pair_value(int(b), int(m)) for b, m in
                          zip(bvals[present // mvals.size], mvals[present % mvals.size],
                              strict=True)])
        self.widen(int(new.max()) if new.size else 0)
        table = np.zeros(n, dtype=new.dtype)
        table[present] = new
        for nz, maskv in _expanded(blocks):
            self.base_flat[nz] = table[rank_b[self.base_flat[nz]] + rank_m[maskv]]

    def _pair_value(self, base_v: int, mask_v: int) -> int:
        """The value a voxel with this (base, mask) pair gets; may create an overlap group."""
        if mask_v in self.file_excess:
            return base_v
        mask_instances = self.group_map.get(mask_v, {mask_v})
        if base_v == 0:
            group_key = tuple(sorted(mask_instances))
        else:
            base_instances = self.group_map.get(base_v, {base_v})
            if base_instances == mask_instances:
                return base_v
            group_instances = base_instances | mask_instances
            group_key = tuple(sorted(group_instances))
            if group_key in self.reverse_map:
                mask_v = self.reverse_map[group_key]
            else:
                if not self.instance_pool:
                    raise MergeError(
                        "Too many overlap combinations: no free id below 65536 is left.",
                        sdk_message="min() arg is an empty sequence",
                    )
                mask_v = min(self.instance_pool)
                self.allocated.add(mask_v)
                self.group_map[mask_v] = group_instances
        self.reverse_map[group_key] = mask_v
        self.instance_pool.discard(mask_v)
        if mask_v in self.group_map:
            self.instance_pool -= self.group_map[mask_v]
        return mask_v

    def result(self) -> MergeResult:
        """Step 6: the volume in the SDK's dtype, and the segment map."""
        if self.merged_later:
            self.final_instances = _final_values(self.base_flat)
        if self.prune and not self.final_instances:
            return MergeResult(None, None, None, {}, files=self.files)
        header = self.header
        need_memory(self.files[0], self.base.size * 2, "the merged volume")  # a cast at most
        if not self.final_instances or max(self.final_instances) < 256:
            header.set_data_dtype(np.uint8)
            volume = self.base if self.base.dtype == np.uint8 else \
                self.base.astype(np.uint8, order="F")
        else:
            volume = self.base if self.base.dtype == np.uint16 else \
                self.base.astype(np.uint16, order="F")
            if header.get_data_dtype() == np.uint8:
                # The SDK keeps the uint8 header of a uint8 base here, and nibabel then
                # stores ids above 255 scaled into uint8: 7 reads back as 7.06. Segmap
                # writes uint16 instead (deliberate difference 2).
                header.set_data_dtype(np.uint16)
        first = self.files[0]
        changed = self.binary or bool(self.file_excess) or self.merged_later or (
            self.base_dtype != header.get_data_dtype())
        segments: dict[int, list[int] | None] = {}
        for value in self.final_instances:
            if value in self.group_map:
                for inst in self.group_map[value]:
                    segments[inst] = (segments.get(inst) or []) + [value]
            elif value not in segments:
                segments[value] = None
        unchanged = not changed and self.base_is_file
        return MergeResult(volume=volume, affine=self.affine, header=header, segments=segments,
                           source=Path(first) if unchanged else None, files=self.files)


def png_mask_file(path: str) -> MaskFile:
    """A PNG mask converted in memory, as the SDK merges it."""
    return png_mask(path, png_volume(path))


def merge_files(
    files: Sequence[str],
    instances: Instances,
    *,
    binary_mask: bool = False,
    png_mask: bool = False,
    masks: MaskPaths | None = None,
    label_validate: bool = False,
    prune: bool = False,
) -> Work[MergeResult]:
    """Merge segmentation files; yields Progress, returns the MergeResult.

    Arguments mirror ``process_upload``: ``files`` in merge order, ``instances``
    {instance id: overlap group ids or None}, ``masks`` {str(instance id): path}
    (binary mode). Raises MergeError where the SDK returns an error.
    """
    files = [files] if isinstance(files, str) else list(files)
    args = (files, instances, binary_mask, png_mask, dict(masks or {}), label_validate, prune)
    m = _Merge(*args)
    total = len(m.files) + 2
    yield Progress(0, total, f"Reading {Path(m.files[0]).name}")
    m.read_base()
    try:
        yield from m.read_later(total)
    except _Restart:  # rare: read again, keeping every file's voxels until the last is read
        m = _Merge(*args, eager_labels=False)
        m.read_base()
        yield from m.read_later(total)
    m.prune_and_validate()
    yield Progress(total - 1, total, "Merging")
    m.merge_all()
    result = m.result()
    yield Progress(total, total, "Merged")
    return result


def merge(files: Sequence[str], instances: Instances, **options: bool | MaskPaths) -> MergeResult:
    """Run :func:`merge_files` to the end (no progress reporting)."""
    return run(merge_files(files, instances, **options))  # type: ignore[arg-type]
