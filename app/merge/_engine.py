"""Merge the segmentation files of one series exactly as RedBrick will store them.

This re-implements ``redbrick.utils.nifti.process_upload`` of redbrick-sdk 2.35.4
(reference redbrick.md §3.4) voxel for voxel: the base file, then every later file
in order; voxels claimed by more than one instance become an overlap group whose
id is the smallest unused positive integer; binary mode writes each mask file's
non-zero voxels as the instance whose ``mask`` names it; float and signed data are
rounded and wrapped to uint16; the result is uint8 when its largest value is below
256; ``label_validate`` and ``prune`` behave as the SDK's flags. Differential
tests run the SDK on the same inputs and compare.

What differs, on purpose:

* a file whose shape differs from the base file is refused with both shapes
  named (the SDK merges a smaller file silently into a corner of the volume, and
  fails on a larger one with a numpy indexing message);
* when uint8 masks end with ids above 255, the result is written as uint16 (the
  SDK writes it as uint8 with a scale factor, which corrupts every label);
* it is fast: masks are inflated with ISA-L, only their non-zero voxels are kept,
  and overlap pairs are found with dense lookup tables instead of sorting.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from app.errors import MergeError, VolumeReadError
from app.items import ItemsList, Task, sdk_path
from app.progress import Progress, Work, run
from app.readers import (
    RUNS,
    NiftiHeader,
    NiftiInfo,
    nifti_info,
    nonzero,
    read_raw,
    save_nifti,
    tally_chunks,
)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_SLAB_VOXELS = 1 << 22  # float conversion in slabs keeps memory near one uint16 volume


@dataclass
class MergeResult:
    """The label volume RedBrick receives for one series, and its segment map.

    ``segments`` maps every instance id that has voxels to its overlap group ids
    (None when it overlaps nothing). ``source`` is set when RedBrick would upload
    the original file unchanged (a single uint8 file needing no rewrite).
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
        """Write the merged volume as NIfTI (atomically)."""
        return save_nifti(self.image(), path)

    def segments_json(self) -> dict[str, list[int] | None]:
        """The segment map with text keys, sorted, as the CLI prints it."""
        return {str(k): (sorted(v) if v else None) for k, v in sorted(self.segments.items())}


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape)


def _check_name(path: str) -> None:
    # nibabel picks the image class from the file name; the SDK refuses anything
    # that does not load as NIfTI-1/2, so names that are not NIfTI fail there too.
    if not path.lower().endswith(NIFTI_SUFFIXES):
        raise MergeError(
            f"{path} is not a NIfTI file (.nii or .nii.gz); RedBrick cannot merge it.",
            "Convert the mask to NIfTI (.nii.gz) first.",
            sdk_message="Invalid mask type",
        )


def _uint16_exact(info: NiftiInfo) -> bool:
    # The SDK compares dtypes with ==, which is False for big-endian uint16.
    return bool(info.dtype == np.uint8 or info.dtype == np.uint16)


def _merge_error(exc: VolumeReadError) -> MergeError:
    # A file the SDK cannot read either: its message is what the SDK reports too.
    return MergeError(exc.message, exc.hint, sdk_message=exc.message)


def _sdk_info(path: str) -> NiftiInfo:
    """The header of a mask the SDK would accept as NIfTI, or the MergeError it fails with."""
    _check_name(path)
    try:
        return nifti_info(path)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None


def _read_like_sdk(path: str, base: bool, info: NiftiInfo | None = None
                   ) -> tuple[NiftiInfo, np.ndarray, np.ndarray | None]:
    """Read a mask as the SDK reads it (uint8/uint16 raw, anything else rounded).

    Returns the info, the voxels (uint8 files stay uint8: the merge widens them only
    if a value above 255 must be written, which gives the SDK's uint16 results) and,
    when they are known without a scan, the flat indices of the non-zero voxels.
    ``info`` is the header when the caller has read it already.
    """
    info = info or _sdk_info(path)
    if len(info.shape) != 3:
        which = "base mask" if base else "mask"
        raise MergeError(
            f"{path} has {len(info.shape)} dimensions ({_shape_text(info.shape)}); "
            "RedBrick needs a 3-D volume.",
            "Save the mask as a 3-D volume (drop singleton 4th dimensions).",
            sdk_message=f"Invalid {which} shape",
        )
    if info.scaled:
        # Rare: a label map with scl_slope / scl_inter. The SDK rounds scaled float
        # data; for scaled uint8/uint16 it keeps nibabel's float values, which only
        # make sense as labels when they are whole numbers.
        img = nib.load(path)
        if _uint16_exact(info):
            scaled = np.asanyarray(img.dataobj, dtype=np.float64)
            integral = np.array_equal(scaled, np.round(scaled))
            if not integral or scaled.min() < 0 or scaled.max() > 65535:
                raise MergeError(
                    f"{path} has scl_slope/scl_inter that turn its labels into fractions.",
                    "Save the mask with scl_slope 1 and scl_inter 0 (plain integer labels).",
                )
            data = scaled.astype(info.dtype)
        else:
            data = np.round(img.get_fdata(caching="unchanged")).astype(np.uint16)
        return info, np.asfortranarray(data), None
    cached = RUNS.get(path) if _uint16_exact(info) else None
    if cached is not None and cached.shape == info.shape:
        # Rebuilt from the census's runs: no second inflate of the file.
        flat = np.zeros(int(np.prod(info.shape)), info.dtype.newbyteorder("="))
        idx, vals = cached.expand()
        flat[idx] = vals
        return info, flat.reshape(info.shape, order="F"), idx
    try:
        raw = read_raw(info)
    except VolumeReadError as exc:
        raise _merge_error(exc) from None
    if _uint16_exact(info):
        return info, raw, None
    # Float and signed data: np.round(get_fdata()).astype(uint16), done in slabs.
    out = np.empty(info.shape, dtype=np.uint16, order="F")
    flat_in, flat_out = raw.reshape(-1, order="F"), out.reshape(-1, order="F")
    for start in range(0, flat_in.size, _SLAB_VOXELS):
        part = flat_in[start : start + _SLAB_VOXELS].astype(np.float64)
        flat_out[start : start + _SLAB_VOXELS] = np.round(part).astype(np.uint16)
    return info, out, None


def _shape_error(path: str, shape: Sequence[int], base_path: str, base_shape: Sequence[int]
                 ) -> MergeError:
    larger = any(a > b for a, b in zip(shape, base_shape, strict=False))
    return MergeError(
        f"{path} is {_shape_text(shape)} but the first segmentation file {base_path} is "
        f"{_shape_text(base_shape)}; RedBrick would "
        + ("fail on it." if larger else "merge it silently into a corner of the volume."),
        "Every segmentation of a series must have the image's grid; resample the mask.",
    )


def _write(flat: np.ndarray, where: np.ndarray, value: int) -> None:
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


def _final_values(flat: np.ndarray) -> set[int]:
    # Counting runs (the census core) instead of np.unique over the whole volume.
    chunks = (flat[i : i + (1 << 20)] for i in range(0, flat.size, 1 << 20))
    # Inserted in ascending order, as the SDK's set(np.unique(...)), so that set
    # iteration (which orders the overlap group lists) matches it.
    return set(sorted(int(v) for v in tally_chunks(chunks).counts if v != 0))


def _png_to_volume(path: str) -> np.ndarray:
    """A PNG mask as the SDK converts it: any channel non-zero -> 1, shape (W, H, 1)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        raise MergeError("PNG masks need Pillow (pip install pillow).") from None
    try:
        with Image.open(path) as img:
            png = np.array(img)
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


def merge_files(
    files: Sequence[str],
    instances: dict[int, list[int] | None],
    *,
    binary_mask: bool = False,
    png_mask: bool = False,
    masks: dict[str, str] | None = None,
    label_validate: bool = False,
    prune: bool = False,
) -> Work[MergeResult]:
    """Merge segmentation files; yields Progress, returns the MergeResult.

    Arguments mirror ``process_upload``: ``files`` in merge order, ``instances``
    {instance id: overlap group ids or None}, ``masks`` {str(instance id): path}
    (binary mode). Raises MergeError where the SDK returns an error.
    """
    files = [files] if isinstance(files, str) else list(files)
    masks = dict(masks or {})
    if not files or any(not isinstance(f, str) or not os.path.isfile(f) for f in files):
        missing = [f for f in files if not isinstance(f, str) or not os.path.isfile(f)]
        raise MergeError(
            "Segmentation file not found: " + ", ".join(map(str, missing))
            if missing else "The series lists no segmentation files.",
            "Check the paths in `segmentations` (relative paths start at the items list's folder).",
            sdk_message="Files do not exist",
        )
    reverse_masks: dict[str, tuple[int, ...]] = {}
    for inst_id, mask in masks.items():
        reverse_masks[mask] = reverse_masks.get(mask, ()) + (int(inst_id),)

    png_volumes: dict[str, np.ndarray] = {}
    if binary_mask or png_mask:
        if not binary_mask:
            raise MergeError(
                "pngMask is set without binaryMask; RedBrick only accepts PNG masks as binary "
                "masks.",
                "Set binaryMask: true as well.",
                sdk_message="PNG mask upload only supports binary masks",
            )
        for mask, ids in reverse_masks.items():
            if len(ids) > 1:
                raise MergeError(
                    f"The mask file {mask} is used by instances {', '.join(map(str, ids))}; "
                    "in binaryMask mode one file is one instance.",
                    "Give each instance its own mask file.",
                    sdk_message="Binary mask upload only supports single instance per file: "
                    f"'{mask}'",
                )
        if png_mask:
            for mask in list(reverse_masks):
                png_volumes[mask + ".nii.gz"] = _png_to_volume(mask)
                reverse_masks[mask + ".nii.gz"] = reverse_masks.pop(mask)
            files = list(reverse_masks)
    total = len(files) + 2
    yield Progress(0, total, f"Reading {Path(files[0]).name}")

    if files[0] in png_volumes:
        base_info, base, known_nz = None, png_volumes[files[0]].copy(), None
    else:
        base_info, base, known_nz = _read_like_sdk(files[0], True)
    if base_info is not None:
        header = base_info.header.copy()
        affine = base_info.affine
        base_dtype = base_info.dtype
        if not _uint16_exact(base_info):
            header.set_data_dtype(np.uint16)
    else:  # a PNG converted in memory, saved by the SDK as a fresh NIfTI-1 image
        img = nib.Nifti1Image(png_volumes[files[0]], np.diag([-1.0, -1.0, 1.0, 1.0]))
        header, affine = img.header, img.affine
        base_dtype = header.get_data_dtype()
    base = np.asfortranarray(base)
    base_flat = base.reshape(-1, order="F")
    base_shape = base.shape

    def widen(value: int) -> None:
        # The SDK merges in uint16; a uint8 base works the same until a value above
        # 255 must be written, and then becomes uint16 (saves a copy and a cast).
        nonlocal base, base_flat
        if base.dtype == np.uint8 and value > 255:
            base = base.astype(np.uint16, order="F")
            base_flat = base.reshape(-1, order="F")

    group_map: dict[int, set[int]] = {}
    map_instances: set[int] = set()
    file_instances: set[int] = set()
    reverse_map: dict[tuple[int, ...], int] = {}
    for inst, groups in instances.items():
        map_instances.add(inst)
        reverse_map[(inst,)] = inst
        if groups:
            map_instances.update(groups)
            for g in groups:
                group_map.setdefault(g, set()).add(inst)
    if group_map:
        if common := set(instances) & set(group_map):
            raise MergeError(
                f"Ids {sorted(common)} are used both as instance ids and as overlap group ids.",
                "Renumber the overlappingGroups so no group id is also a segmentMap key.",
                sdk_message=f"Found common instance and group ids: {common}",
            )
        for g, members in group_map.items():
            reverse_map[tuple(sorted(members))] = g

    base_nz = known_nz if known_nz is not None else np.flatnonzero(base_flat)
    if binary_mask:
        if files[0] in reverse_masks:
            inst = reverse_masks[files[0]][0]
            widen(inst)
            _write(base_flat, base_nz, inst)
            file_instances.add(inst)
    elif base_nz.size:
        file_instances.update(_final_values(base_flat))
    final_instances = set(file_instances)

    # Later files: keep only their non-zero voxels (flat Fortran indices) and values.
    # They are read on a small thread pool (inflating releases the GIL) and used in order.
    def nonzero_of(path: str) -> tuple[np.ndarray, np.ndarray]:
        if path in png_volumes:
            flat = png_volumes[path].reshape(-1, order="F")
            if png_volumes[path].shape != base_shape:
                raise _shape_error(path, png_volumes[path].shape, files[0], base_shape)
            nz = np.flatnonzero(flat)
            return nz, flat[nz]
        info = _sdk_info(path)
        if len(info.shape) == 3 and info.shape != base_shape:
            raise _shape_error(path, info.shape, files[0], base_shape)
        if len(info.shape) == 3 and _uint16_exact(info) and not info.scaled:
            cached = RUNS.get(path)
            if cached is not None and cached.shape == info.shape:
                return cached.expand()  # the census already streamed this file
            try:
                return nonzero(info)
            except VolumeReadError as exc:
                raise _merge_error(exc) from None
        _, data, _ = _read_like_sdk(path, False, info)
        flat = data.reshape(-1, order="F")
        nz = np.flatnonzero(flat)
        return nz, flat[nz]

    mask_data: list[tuple[np.ndarray, int | np.ndarray]] = []
    index_type = np.int32 if base_flat.size < 2**31 else np.int64
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        try:
            for n, (path, (nz, values)) in enumerate(
                zip(files[1:], pool.map(nonzero_of, files[1:]), strict=True), start=1
            ):
                yield Progress(n, total, f"Read {Path(path).name}")
                if not nz.size:
                    continue
                nz = nz.astype(index_type, copy=False)
                if binary_mask:
                    if path in reverse_masks:
                        inst = reverse_masks[path][0]
                        mask_data.append((nz, inst))
                        file_instances.add(inst)
                else:
                    mask_data.append((nz, values))
                    file_instances.update(_final_values(values))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    for inst in list(file_instances):
        if inst in group_map:
            file_instances.update(group_map[inst])
    instance_pool = set(range(1, 65536)) - map_instances - file_instances
    file_excess: set[int] = set()
    if prune:
        if file_excess := file_instances - map_instances:
            excess = np.array(sorted(file_excess), dtype=np.uint16)
            hit = np.isin(base_flat[base_nz], excess)
            if hit.any():
                base_flat[base_nz[hit]] = 0
            file_instances -= file_excess
            final_instances -= file_excess
        if map_excess := map_instances - file_instances:
            map_instances -= map_excess
    if label_validate and file_instances != map_instances:
        only_files = sorted(file_instances - map_instances)
        only_map = sorted(map_instances - file_instances)
        parts = []
        if only_files:
            parts.append(f"values {only_files} are in the files but not in the segmentMap")
        if only_map:
            parts.append(f"segmentMap ids {only_map} are in no file")
        raise MergeError(
            "With --label-validate the segmentation values and the segmentMap must match: "
            + "; ".join(parts) + ".",
            "Map every value, remove unused ids, or use --prune to drop the extras.",
            sdk_message=(
                "Instance IDs in segmentation file(s) and segmentMap do not match.\n"
                f"Segmentation file(s) have instances: {file_instances} and "
                f"segmentMap has instances: {map_instances}\n"
                f"Segmentation(s): {files}"
            ),
        )

    yield Progress(total - 1, total, "Merging")
    for nz, maskv in mask_data:
        basev = base_flat[nz]
        overlap: np.ndarray | None = None
        if isinstance(maskv, int):
            if maskv in file_excess:
                continue
            # Binary masks mostly fall on background: those voxels form the pair
            # (0, mask), which sorts first; only the overlapping ones need the
            # unique-pair bookkeeping. Same pairs, same order as the SDK.
            hit = np.flatnonzero(basev)
            if hit.size < basev.size:
                overlap = hit
                uniq, inverse = _unique_inverse(basev[hit])
                pairs: Iterable[tuple[int, int]] = [(0, maskv), *((int(b), maskv) for b in uniq)]
            else:
                uniq, inverse = _unique_inverse(basev)
                pairs = ((int(b), maskv) for b in uniq)
        else:
            upairs, inverse = _pairs_inverse(basev, maskv)
            pairs = ((int(b), int(m)) for b, m in upairs)
        new_values = []
        for base_v, mask_v in pairs:
            new_values.append(base_v)
            if mask_v in file_excess:
                continue
            mask_instances = group_map.get(mask_v, {mask_v})
            if base_v == 0:
                group_key = tuple(sorted(mask_instances))
            else:
                base_instances = group_map.get(base_v, {base_v})
                if base_instances == mask_instances:
                    continue
                group_instances = base_instances | mask_instances
                group_key = tuple(sorted(group_instances))
                if group_key in reverse_map:
                    mask_v = reverse_map[group_key]
                else:
                    if not instance_pool:
                        raise MergeError(
                            "Too many overlap combinations: no free id below 65536 is left.",
                            sdk_message="min() arg is an empty sequence",
                        )
                    mask_v = min(instance_pool)
                    group_map[mask_v] = group_instances
            new_values[-1] = mask_v
            reverse_map[group_key] = mask_v
            instance_pool.discard(mask_v)
            if mask_v in group_map:
                instance_pool -= group_map[mask_v]
        new = _as_uint16(new_values)
        widen(int(new.max()) if new.size else 0)
        if overlap is None:
            base_flat[nz] = new[inverse]
        else:
            base_flat[nz] = new[0]  # the background pair
            if overlap.size:
                base_flat[nz[overlap]] = new[1:][inverse]

    if mask_data:
        final_instances = _final_values(base_flat)
    if prune and not final_instances:
        return MergeResult(None, None, None, {}, files=files)
    if not final_instances or max(final_instances) < 256:
        header.set_data_dtype(np.uint8)
        volume = base if base.dtype == np.uint8 else base.astype(np.uint8, order="F")
    else:
        volume = base if base.dtype == np.uint16 else base.astype(np.uint16, order="F")
        if header.get_data_dtype() == np.uint8:
            # The SDK keeps the uint8 header of a uint8 base here, and nibabel then
            # stores ids above 255 scaled into uint8: 7 reads back as 7.06. Segmap
            # writes uint16 instead (deliberate difference 2).
            header.set_data_dtype(np.uint16)
    changed = binary_mask or bool(file_excess) or bool(mask_data) or (
        base_dtype != header.get_data_dtype()
    )
    segments: dict[int, list[int] | None] = {}
    for value in final_instances:
        if value in group_map:
            for inst in group_map[value]:
                segments.setdefault(inst, None)
                segments[inst] = (segments[inst] or []) + [value]
        elif value not in segments:
            segments[value] = None
    yield Progress(total, total, "Merged")
    return MergeResult(
        volume=volume,
        affine=affine,
        header=header,
        segments=segments,
        source=None if changed else Path(files[0]),
        files=files,
    )


def merge(files: Sequence[str], instances: dict[int, list[int] | None],
          **options: bool | dict[str, str]) -> MergeResult:
    """Run :func:`merge_files` to the end (no progress reporting)."""
    return run(merge_files(files, instances, **options))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SeriesInputs:
    """What RedBrick would pass to its merge for one series."""

    files: list[str]
    instances: dict[int, list[int] | None]
    binary_mask: bool
    png_mask: bool
    masks: dict[str, str]

    def options(self) -> dict[str, bool | dict[str, str]]:
        """Keyword arguments for :func:`merge_files`."""
        return {"binary_mask": self.binary_mask, "png_mask": self.png_mask, "masks": self.masks}


def series_inputs(items: ItemsList, task: Task, series_index: int) -> SeriesInputs:
    """Translate a series of the items list into merge inputs, as the RedBrick CLI does."""
    if not 0 <= series_index < len(task.series):
        raise MergeError(
            f"Task {task.name!r} has {len(task.series)} series; there is no series {series_index}.",
            f"Series are numbered from 0 to {len(task.series) - 1}.",
        )
    series = task.series[series_index]
    smap = task.segment_map_of(series_index)
    files: list[str] = []
    for p in series.segmentation_paths:
        local = sdk_path(p, items.base_dir)
        if os.path.isdir(local):
            # RedBrick lists the folder in file-system order; Segmap sorts it so the
            # result is repeatable (validation warns that the order is undefined).
            files.extend(sorted(os.path.join(local, f) for f in os.listdir(local)))
        else:
            files.append(local)
    instances: dict[int, list[int] | None] = {}
    masks: dict[str, str] = {}
    if smap is not None:
        for inst, seg in smap.segments.items():
            if inst:  # RedBrick ignores instance id 0
                instances[inst] = list(seg.overlapping_groups) if seg.overlapping_groups else None
            if isinstance(seg.mask, str):
                masks[str(inst)] = sdk_path(seg.mask, items.base_dir)
    return SeriesInputs(files, instances, series.is_binary, series.flag("pngMask"), masks)


def merge_series(
    items: ItemsList, task: Task, series_index: int, *, label_validate: bool = False,
    prune: bool = False,
) -> Work[MergeResult]:
    """Merge one series of an items list; yields Progress, returns the MergeResult."""
    inputs = series_inputs(items, task, series_index)
    return (yield from merge_files(
        inputs.files, inputs.instances, binary_mask=inputs.binary_mask,
        png_mask=inputs.png_mask, masks=inputs.masks, label_validate=label_validate, prune=prune,
    ))
