"""RT Structure Sets in an items list, read as RedBrick's ``--rt-struct`` upload reads them.

An RTSTRUCT series of an items list (every file of its ``segmentations`` an RT Structure
Set) has a segmentMap keyed by ROI name. RedBrick's SDK 2.35.4
(``redbrick.utils.rt_struct.convert_rt_struct_to_nii``) drops the names no ROI has,
gives each remaining name its position plus one as its value, leaves the file's ROIs the
map does not name out (with a warning), fills the contours with rt-utils, later names
winning where ROIs overlap, and uploads that label map with a segmentMap keyed by those
values.

:func:`rt_series` reads each such series so (``read_rtstruct``: the contours filled as
rt-utils fills them, on the grid Segmap's reader gives the series) and keeps label maps of
it in the cache (``$SEGMAP_CACHE/rtstruct``), one set per (structure set content, series
files, names): ``label``, the mapped ROIs on the series' world grid, which census, merge,
stats, validation and the preview read, each ROI valued by its place in the file (so a
value does not change as other ROIs are mapped); ``sdk``, the exact volume the SDK stores
(its voxel order, its values, its ``diag(-1, -1, 1)`` affine), which the upload sends; and
``everything``, every ROI by its place, for a preview of ROIs not mapped yet.
:func:`with_rt_as_nifti` is the list with each RTSTRUCT series replaced by its label map
and a segmentMap keyed by those values, so every command works on it as on NIfTI; what it
could not read, and the names the SDK would drop, are in each :class:`RtSeries`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from app.discover._cache import cache_root
from app.errors import SegmapError
from app.items import ItemsList, Segment, SegmentMap, Series, Task
from app.readers import Census, census, is_rtstruct, save_nifti
from app.readers.dicom import (
    RoiMask,
    RtMasks,
    read_rtstruct,
    rtstruct_header,
    sdk_refusal,
    sdk_rtstruct_volume,
)

_FOLDER = "rtstruct"
_VERSION = 2  # 2: values are the ROIs' places in the file


@dataclass(frozen=True)
class RtSeries:
    """One RTSTRUCT series of an items list, as RedBrick's SDK reads it."""

    task: int
    series: int
    files: tuple[str, ...]  # the structure sets, as the list writes them
    names: tuple[str, ...]  # the segmentMap's ROI names, in order
    # mapped ROI name -> its value in ``label``: its place among the file's ROIs (from 1),
    # which does not change as other ROIs are mapped or not
    values: dict[str, int]
    missing: tuple[str, ...]  # mapped names no ROI of the file has (the SDK drops them)
    unmapped: tuple[str, ...]  # ROIs of the file the map leaves out (the SDK drops them)
    overlapping: tuple[str, ...]  # mapped ROIs that share voxels (the later one wins)
    label: Path | None  # the label map on the series' grid (None: not read)
    sdk: Path | None  # the volume RedBrick's SDK stores (None: not read)
    error: str | None = None  # why it was not read, for a user
    refusal: str | None = None  # why RedBrick's SDK would refuse it
    findings: tuple[str, ...] = ()  # what else reading the contours found
    rois: tuple[str, ...] = ()  # every ROI name of the file, in file order
    # mapped ROI name -> the value the SDK gives it in ``sdk`` (its place among the mapped)
    sdk_values: dict[str, int] = dataclasses.field(default_factory=dict)
    everything: Path | None = None  # every ROI by its place, mapped or not (for a preview)


def is_rt_series(items: ItemsList, series: Series) -> bool:
    """True when every segmentation of the series is a local RT Structure Set file."""
    paths = series.segmentation_paths
    if not paths:
        return False
    local = [items.resolve(p) for p in paths]
    return all(p is not None and is_rtstruct(p) for p in local)


def _map_of(items: ItemsList, ti: int, si: int) -> SegmentMap | None:
    task = items.tasks[ti]
    return task.series[si].segment_map or task.segment_map  # the SDK copies a task's map down


def rois_of(masks: Sequence[str | os.PathLike[str]]) -> tuple[str, ...] | None:
    """The ROI names (file order, each once) of a series whose one mask is an RT Structure
    Set, from its header; None for any other series (or a file that cannot be read)."""
    if len(masks) != 1 or not is_rtstruct(masks[0]):
        return None
    path = Path(masks[0])
    try:
        key = json.dumps(_stat(path))
    except OSError:
        return None
    with _LOCK:
        if key in _ROIS:
            return _ROIS[key]
    try:
        rois: tuple[str, ...] | None = tuple(dict.fromkeys(
            r.name for r in rtstruct_header(path).rois))
    except SegmapError:
        rois = None
    with _LOCK:
        _ROIS[key] = rois
    return rois


def bind_rt_maps(items: ItemsList) -> None:
    """Key each RTSTRUCT series' segmentMap by its ROIs' places in the file
    (``SegmentMap.bind_rois``), so it is edited by value as any label map; it is still
    written keyed by ROI name."""
    for ti, si in rt_places(items):
        series = items.tasks[ti].series[si]
        local = [items.resolve(p) for p in series.segmentation_paths]
        rois = rois_of([p for p in local if p is not None])
        if series.segment_map is not None and rois is not None and \
                series.segment_map.rois is None:
            series.segment_map.bind_rois(rois)


def rt_places(items: ItemsList) -> list[tuple[int, int]]:
    """(task, series) of every RTSTRUCT series of the list (headers only)."""
    return [(ti, si) for ti, task in enumerate(items.tasks)
            for si, s in enumerate(task.series) if is_rt_series(items, s)]


def _stat(path: Path) -> list[object]:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _key(rt: Path, images: list[Path], names: tuple[str, ...] | None) -> str:
    """The cache key of a structure set on its images (with the names mapped, or None)."""
    h = hashlib.sha256()
    h.update(json.dumps([_VERSION, _stat(rt), [_stat(p) for p in images],
                         None if names is None else list(names)])
             .encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:24]


_MEMO: dict[str, RtSeries] = {}
_ROIS: dict[str, tuple[str, ...] | None] = {}  # a file version's ROI names (``rois_of``)
# A structure set's contours filled on its series, per file versions: filling them is the
# long part (a second for 50 ROIs of a 512x512x300 CT), and the scan, the wizard's census
# and preview and every validation after an edit of the map ask for the same file. The
# ROIs are kept as their bounding boxes (about 100 MB for those 50), the last few only.
_MASKS: OrderedDict[str, RtMasks] = OrderedDict()
_MASKS_KEPT = 4
_LOCK = threading.Lock()


def rt_masks(rt: Path, series_files: Sequence[Path]) -> RtMasks:
    """``read_rtstruct(rt, series_files)``, remembered per version of the files (the series'
    in any order). Raises as it does (SegmapError), and OSError for a file that is gone."""
    key = json.dumps([_stat(rt), sorted(_stat(Path(p)) for p in series_files)])
    with _LOCK:
        known = _MASKS.get(key)
        if known is not None:
            _MASKS.move_to_end(key)
            return known
    masks = read_rtstruct(rt, list(series_files))
    with _LOCK:
        _MASKS[key] = masks
        while len(_MASKS) > _MASKS_KEPT:
            _MASKS.popitem(last=False)
    return masks


def _write(img: nib.Nifti1Image, path: Path, what: str) -> None:
    tmp = path.with_name(f".{uuid.uuid4().hex[:8]}-{path.name}")
    save_nifti(img, tmp, what)
    os.replace(tmp, path)


def _read(items: ItemsList, ti: int, si: int) -> RtSeries:
    series = items.tasks[ti].series[si]
    smap = _map_of(items, ti, si)
    files = tuple(series.segmentation_paths)
    names = tuple(smap.by_name()) if smap is not None else ()
    empty = RtSeries(ti, si, files, names, {}, (), (), (), None, None)
    if len(files) > 1:
        return dataclasses.replace(empty, error=(
            f"{len(files)} RT Structure Sets on one series: Segmap reads one per series. Merge "
            "them into one file, or give each its own series."))
    if smap is not None and smap.segments and smap.rois is None:
        return dataclasses.replace(empty, error=(
            "Its segmentMap mixes instance ids with ROI names; an RT-struct map is keyed by "
            "ROI name only. Key every entry by the ROI's name."))
    rt = items.resolve(files[0])
    images = [items.resolve(p) for p in series.item_paths]
    if rt is None or any(p is None for p in images) or not images:
        return dataclasses.replace(empty, error=(
            "Its image files are not local, and the contours are filled on them. Give the "
            "series' DICOM files."))
    return _read_files(empty, rt, [p for p in images if p is not None], names)


def _read_files(empty: RtSeries, rt: Path, local: list[Path], names: tuple[str, ...]
                ) -> RtSeries:
    ti, si, files = empty.task, empty.series, empty.files
    try:
        key = _key(rt, local, names)
    except OSError as exc:
        return dataclasses.replace(empty, error=f"{exc.strerror or exc}: {exc.filename}.")
    with _LOCK:
        known = _MEMO.get(key)
    if known is not None:
        return dataclasses.replace(known, task=ti, series=si)
    try:
        masks = rt_masks(rt, local)
    except SegmapError as exc:
        return dataclasses.replace(empty, error=exc.message)
    rois = list(dict.fromkeys(r.name for r in masks.rois))  # rt-utils takes the first
    place = {n: v for v, n in enumerate(rois, start=1)}
    present = [n for n in names if n in place]
    lost = {f.roi for f in masks.findings if f.code == "contour-no-image" and f.roi}
    dtype = np.uint16 if len(rois) >= 250 else np.uint8
    label, overlapping = _fill(masks, present, place, lost, dtype)
    refusal = sdk_refusal(masks)
    folder = cache_root(_FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    label_path, sdk_path = folder / f"{key}.nii.gz", folder / f"{key}-sdk.nii.gz"
    _write(_on_grid(label, masks.grid.affine), label_path, f"RT-struct {rt.name} on its series")
    # Every ROI does not depend on the names mapped: one file per version of the files.
    every_path = folder / f"{_key(rt, local, None)}-all.nii.gz"
    if not every_path.is_file():
        boxes = _first_boxes(masks)
        largest_first = sorted(rois, key=lambda n: -int(np.count_nonzero(boxes[n].data)))
        _write(_on_grid(_fill(masks, largest_first, place, lost, dtype)[0],  # small ones
                        masks.grid.affine), every_path, f"RT-struct {rt.name}, every ROI")
    sdk: Path | None = sdk_path
    try:  # refused when images are missing; a non-square image is stored, wrongly
        _write(sdk_rtstruct_volume(masks, list(names)), sdk_path, f"RT-struct {rt.name}, SDK")
    except SegmapError:
        sdk = None
    done = RtSeries(ti, si, files, names, {n: place[n] for n in present},
                    tuple(n for n in names if n not in place),
                    tuple(n for n in rois if n not in names), tuple(overlapping), label_path,
                    sdk, None, refusal, tuple(f.message for f in masks.findings), tuple(rois),
                    {n: v for v, n in enumerate(present, start=1)}, every_path)
    with _LOCK:
        if len(_MEMO) > 512:
            _MEMO.clear()
        _MEMO[key] = done
    return done


def rt_of(items: ItemsList, task: Task, series_index: int) -> RtSeries | None:
    """The series as RedBrick's SDK reads it when it is an RTSTRUCT series, else None."""
    ti = items.index_of(task)
    if ti is None or not 0 <= series_index < len(task.series) or \
            not is_rt_series(items, task.series[series_index]):
        return None
    return _read(items, ti, series_index)


def value_segments(items: ItemsList, task: Task, series_index: int
                   ) -> dict[int, tuple[str, Segment]]:
    """The segmentMap of a series by the value its labels have in the merged mask: value ->
    (the key as written, the segment). An RTSTRUCT series' keys are ROI names, their values
    those RedBrick's SDK gives them; any other series' keys are the values."""
    smap = task.segment_map_of(series_index)
    if smap is None:
        return {}
    rt = rt_of(items, task, series_index)
    if rt is not None:
        named = smap.by_name()
        return {v: (name, named[name]) for name, v in rt.values.items()}
    return {inst: (smap.key_of(inst), seg) for inst, seg in smap.segments.items()}


def _first_boxes(masks: RtMasks) -> dict[str, RoiMask]:
    """Each ROI name's mask box: its first ROI's, as rt-utils (and ``RtMasks.mask``) take."""
    out: dict[str, RoiMask] = {}
    for roi, box in zip(masks.rois, masks.boxes, strict=True):
        out.setdefault(roi.name, box)
    return out


def _fill(masks: RtMasks, names: Sequence[str], place: dict[str, int], lost: set[str],
          dtype: type[np.unsignedinteger]) -> tuple[np.ndarray, list[str]]:
    """The label map of ``names`` (each ROI valued by its ``place``; later names win where
    ROIs overlap, as in RedBrick's SDK) and the names that overlap earlier ones. Each ROI
    is painted within its bounding box only."""
    boxes = _first_boxes(masks)
    label = np.zeros(masks.grid.shape, dtype)
    seen = np.zeros(masks.grid.shape, bool)
    overlapping = []
    for name in names:
        if name in lost:  # rt-utils raises on it; the SDK skips the ROI
            continue
        box = boxes[name]
        (i, j, k), (a, b, c) = box.offset, box.data.shape
        region = (slice(i, i + a), slice(j, j + b), slice(k, k + c))
        if np.any(seen[region] & box.data):
            overlapping.append(name)
        seen[region] |= box.data
        label[region][box.data] = place[name]
    return label, overlapping


def _on_grid(label: np.ndarray, affine: np.ndarray) -> nib.Nifti1Image:
    img = nib.Nifti1Image(label, np.asarray(affine, float))
    img.header.set_qform(img.affine, code=1)
    img.header.set_sform(img.affine, code=1)
    return img


def rt_everything(rt: Path, images: Sequence[Path]) -> Path | None:
    """The label map of every ROI of a structure set, each valued by its place in the file,
    on the series ``images`` (in the cache; None when it cannot be filled): what the
    wizard shows of an RTSTRUCT mask, mapped or not."""
    return _read_files(RtSeries(-1, -1, (str(rt),), (), {}, (), (), (), None, None), rt,
                       list(images), ()).everything


def rt_census(rt: Path, images: Sequence[Path]) -> Census | None:
    """The census of ``rt_everything`` (None when it cannot be filled), as the census of
    the structure set."""
    every = rt_everything(rt, images)
    if every is None:
        return None
    try:
        return dataclasses.replace(census(every), file=rt)
    except SegmapError:
        return None


def rt_series(items: ItemsList) -> list[RtSeries]:
    """Every RTSTRUCT series of the list, read as RedBrick's SDK reads it."""
    return [_read(items, ti, si) for ti, si in rt_places(items)]


def with_rt_as_nifti(items: ItemsList, read: list[RtSeries] | None = None, *,
                     sdk: bool = False) -> tuple[ItemsList, list[RtSeries]]:
    """The list with each RTSTRUCT series as the label map RedBrick stores for it (on the
    series' grid; ``sdk``: the SDK's own volume), keyed by value, and what was read.

    A series that could not be read keeps its structure set, so validation names it. The
    list itself is not changed; with no RTSTRUCT series it is returned as it is.
    """
    found = rt_series(items) if read is None else read
    if not found:
        return items, found
    tasks = copy.deepcopy(items.tasks)
    for rt in found:
        path = rt.sdk if sdk else rt.label
        if path is None:
            continue
        task = tasks[rt.task]
        s = task.series[rt.series]
        old = s.segment_map or task.segment_map
        named = old.by_name() if old is not None else {}
        smap = SegmentMap()
        for name, value in (rt.sdk_values if sdk else rt.values).items():
            smap.segments[value] = copy.deepcopy(named[name])
        s.segmentations = str(path)
        s.segment_map = smap
        if task.segment_map is not None and all(x.segment_map is not None for x in task.series):
            task.segment_map = None  # as the SDK: every series has its own now
    return dataclasses.replace(items, tasks=tasks), found
