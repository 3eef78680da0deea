"""Checks of one series: its image, its segmentation files, their values and overlaps.

The segmentation files are listed exactly as RedBrick's CLI would pass them to
its merge (paths rewritten by ``merge.sdk_path``, folders expanded), so a `mask`
spelled differently from its `segmentations` entry is caught here as it would
fail there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import SegmapError, VolumeReadError
from app.geometry import Grid, Relation, compare_grids
from app.items import (
    ItemsList,
    SegmentMap,
    Series,
    Task,
    Taxonomy,
    file_extension,
    is_remote,
    sdk_path,
    task_label,
    uploadable,
)
from app.merge._engine import merge_files
from app.progress import Progress, Work
from app.validate._files import FileCache, FileCheck, access_fault, relation_code, sdk_values
from app.validate._run import Finding, finding
from app.validate._segment_map import check_map
from app.validate._values import check_binary, check_census, check_values, overlap_findings

# Findings that make RedBrick's merge fail (or that it refuses) for the same reason.
MERGE_BLOCKERS = {"mask-shared", "png-without-binary", "files-misaligned", "mask-dimensions",
                  "file-missing", "file-unreadable", "file-corrupt", "not-nifti",
                  "gzip-name-mismatch", "remote-file"}


@dataclass
class SeriesRun:
    """The state of checking one series; ``out`` collects the findings."""

    items: ItemsList
    taxonomy: Taxonomy | None
    cache: FileCache
    task: Task
    task_index: int
    index: int
    label: str | None
    out: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    checks: dict[str, FileCheck] = field(default_factory=dict)
    complete: bool = True  # every segmentation file was found and read
    image: Grid | None = None

    @property
    def series(self) -> Series:
        return self.task.series[self.index]

    @property
    def smap(self) -> SegmentMap | None:
        return self.task.segment_map_of(self.index)

    def add(self, code: str, message: str, file: str | os.PathLike[str] | None = None,
            value: int | None = None) -> None:
        self.out.append(finding(code, message, self.label, self.index, file, value))

    # -- the image ------------------------------------------------------------------

    def check_image(self) -> None:
        paths = self.series.item_paths
        if not paths:
            if "items" not in self.series.extra and "" not in self.series.extra:
                self.add("items-missing", "The series lists no image `items`; RedBrick needs "
                         "the image of every series and refuses or skips the task. Add the "
                         "image file(s) of the series.")
            return
        if any(is_remote(p) for p in paths):
            self.add("grid-not-checked", "The image is a URL or storage key, so its geometry "
                     "was not compared with the masks.")
            return
        local = [p for p in (self.items.resolve(x) for x in paths) if p is not None]
        missing = [p for p in local if not p.is_file()]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            what = "is a folder, not an image file" if missing[0].is_dir() else "not found"
            self.add("image-missing", (
                f"Image file {missing[0]}{more} {what}. RedBrick warns 'Could not find ...' "
                "but queues the task anyway, which then fails after about 35 s of retries. "
                "Check the `items` paths (relative paths start at the items list's folder; "
                "a DICOM series lists its files, not their folder)."),
                file=missing[0])
        bad = [p for p in local if p.is_file() and not uploadable(p.name)]
        if bad:
            ext = file_extension(bad[0].name)
            self.add("image-type-unsupported", (
                f"RedBrick does not upload files ending in .{ext} ({bad[0].name}"
                f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}): 'Unsupported file "
                f"type {ext}!'. Convert the image (NIfTI .nii.gz, NRRD or DICOM .dcm), or "
                "rename DICOM files to end in .dcm."), file=bad[0])
        if missing or not local:
            return
        try:
            self.image = self.cache.image_grid(local)
        except VolumeReadError as exc:
            nifti = len(local) == 1 and local[0].name.lower().endswith((".nii", ".nii.gz"))
            if nifti:
                self.add("image-unreadable", f"{exc.message} RedBrick cannot show this image. "
                         "Export or copy it again.", file=local[0])
            else:
                self.add("grid-not-checked", f"{exc.message} The masks' geometry was not "
                         "compared with the image.", file=local[0])
            return
        if degenerate(self.image):
            self.add("grid-not-checked", f"The image header of {local[0].name} gives no usable "
                     "geometry (a zero voxel size), so the masks were not compared with it.",
                     file=local[0])
            self.image = None

    # -- the segmentation files -------------------------------------------------------

    def list_files(self) -> None:
        """The files RedBrick would merge, in its order (folders expanded)."""
        base = self.items.base_dir
        for p in self.series.segmentation_paths:
            if is_remote(p):
                self.add("remote-file", f"{p} is a URL or storage key; it was not checked.",
                         file=p)
                self.complete = False
                continue
            local = sdk_path(p, base)
            if not os.path.isabs(local):  # not found under the list's folder
                local = str(self.items.resolve(p))
            if os.path.isdir(local):
                self._expand(local)
            else:
                self.files.append(local)

    def _expand(self, folder: str) -> None:
        try:
            entries = sorted(os.listdir(folder))
        except OSError as exc:
            self.add("file-unreadable", f"Cannot list the folder {folder}: "
                     f"{exc.strerror or exc}. Check its permissions.", file=folder)
            self.complete = False
            return
        paths = [os.path.join(folder, e) for e in entries]
        subdirs = [p for p in paths if not os.path.isfile(p)]
        if subdirs:
            self.add("file-unreadable", (
                f"The segmentations folder {folder} holds {os.path.basename(subdirs[0])}, which "
                "is not a file; RedBrick refuses the whole folder ('Invalid label files'). List "
                "the mask files themselves."), file=folder)
            self.complete = False
        files = [p for p in paths if os.path.isfile(p)]
        if len(files) > 1:
            self.add("segmentations-directory", (
                f"`segmentations` names the folder {folder} ({len(files)} files). RedBrick "
                "merges its files in the order the file system lists them, which is not "
                "defined, so overlap group ids and the first file's role can change between "
                "machines. List the files explicitly, in the order you want."), file=folder)
        self.files.extend(files)

    def read_files(self) -> None:
        png = self.series.flag("pngMask")
        for f in dict.fromkeys(self.files):
            if png:  # RedBrick reads the PNG masks (checked by the merge), not these files
                fault = access_fault(f, nifti=False)
                if fault is not None:
                    self.add(*fault, file=f)
                    self.complete = False
                continue
            check = self.cache.check(f)
            self.checks[f] = check
            if check.code is not None:
                self.add(check.code, check.message or "", file=f)
            if check.census is None:
                self.complete = False
                continue
            for code, message, value in check_census(check.census):
                self.add(code, message, file=f, value=value)

    def check_geometry(self) -> None:
        grids = [(f, c.grid) for f, c in self.checks.items() if c.grid is not None]
        for f, grid in grids:
            if grid is not None and degenerate(grid):
                self.add("grid-mismatch", (
                    f"The header of {os.path.basename(f)} gives no usable geometry (a zero voxel "
                    "size), so it cannot be placed on the image. Save the mask with its image's "
                    "voxel size and orientation."), file=f)
        grids = [(f, g) for f, g in grids if g is not None and not degenerate(g)]
        relations: dict[str, Relation] = {}
        for f, grid in grids:
            if self.image is None or grid is None:
                continue
            m = compare_grids(self.image, grid)
            relations[f] = m.relation
            if m.relation == Relation.SAME:
                continue
            name = os.path.basename(f)
            if m.relation == Relation.REORIENTED:
                then = ("It lines up with the image in world space, but its voxel axes are "
                        "stored differently; RedBrick stores the label volume as it is, so "
                        "resave it in the image's orientation to be safe.")
            else:
                then = ("RedBrick expects each segmentation on its image's voxel grid, so this "
                        "mask would be shown in the wrong place or not at all. Resample it onto "
                        "the image (same size, voxel size and orientation).")
            self.add(relation_code(m.relation), f"{name}: {m.message} {then}", file=f)
        if len(grids) < 2 or grids[0][0] != self.files[0]:
            return
        base_file, base_grid = grids[0]
        assert base_grid is not None
        for f, grid in grids[1:]:
            assert grid is not None
            if self.image is not None and not (
                    relations.get(f) in (Relation.SAME, Relation.REORIENTED)
                    and relations.get(base_file) in (Relation.SAME, Relation.REORIENTED)):
                continue  # already reported against the image
            m = compare_grids(base_grid, grid)
            if m.relation != Relation.SAME:
                self.add("files-misaligned", (
                    f"{os.path.basename(f)} is not on the grid of the first segmentation file "
                    f"{os.path.basename(base_file)} ({m.message}). RedBrick merges files voxel by "
                    "voxel by array position and keeps the first file's geometry, so its labels "
                    "would land in the wrong place (or the merge fails). Save every mask of a "
                    "series on the same grid."), file=f)

    def check_mapping(self) -> None:
        smap = self.smap
        if smap is not None and set(smap.segments) - {0} and not self.series.segmentation_paths:
            self.add("no-segmentations", (
                "The series has a segmentMap but no `segmentations` file, so every category in "
                "it would be an empty label. Add the mask file(s), or remove the segmentMap."))
            return
        values = {f: sdk_values(c.census) for f, c in self.checks.items()
                  if c.census is not None}
        self.check_uint8_ids(values)
        if self.series.is_binary:
            self.out.extend(check_binary(self, values))
        else:
            self.out.extend(check_values(self, values))

    def check_uint8_ids(self, values: dict[Any, Any]) -> None:
        """RedBrick's SDK corrupts ids above 255 when the first file is uint8."""
        smap = self.smap
        first = self.checks.get(self.files[0]) if self.files else None
        if smap is None or first is None or first.census is None or first.census.dtype != "uint8":
            return
        ids = set(smap.segments) | {g for s in smap.segments.values()
                                    for g in s.overlapping_groups or []}
        if not self.series.is_binary:
            ids |= {int(v) for vals in values.values() for v in vals}
        big = sorted(i for i in ids if 255 < i <= 65535)
        if big:
            self.add("uint8-ids-over-255", (
                f"The first segmentation file {os.path.basename(self.files[0])} is uint8 and "
                "ids above 255 "
                f"occur ({', '.join(map(str, big[:5]))}). RedBrick's SDK then writes the merged "
                "labels into a uint8 file with a scale factor, and every label value is distorted "
                "(7 reads back as 7.06). Save that file as uint16 or use ids below 256. (Segmap's "
                "own upload writes uint16 and is not affected.)"), file=self.files[0],
                value=big[0])

    def check_own_map(self) -> None:
        smap = self.series.segment_map
        if smap is not None:
            self.out.extend(check_map(smap, self.taxonomy, self.label, self.index))
        if self.series.flag("pngMask") and not self.series.is_binary:
            self.add("png-without-binary", (
                "pngMask is set without binaryMask; RedBrick's merge fails ('PNG mask upload only "
                "supports binary masks') and the task is not uploaded. Set \"binaryMask\": true "
                "as well."))

    # -- overlaps: the merge RedBrick will run --------------------------------------------

    def merge_inputs(self) -> tuple[dict[int, list[int] | None], dict[str, str]] | None:
        """Instances and masks for the merge, when it can run and overlaps are possible."""
        smap = self.smap
        if not self.complete or smap is None or not self.files:
            return None
        if any(f.code in MERGE_BLOCKERS for f in self.out) or any(
                g in smap.segments for s in smap.segments.values()
                for g in s.overlapping_groups or []):
            return None  # already reported: the merge would only fail on the same thing
        instances = {i: (list(s.overlapping_groups) if s.overlapping_groups else None)
                     for i, s in smap.segments.items() if i}
        masks: dict[str, str] = {}
        base = self.items.base_dir
        for inst, seg in smap.segments.items():
            mask = seg.mask[0] if isinstance(seg.mask, list) and len(seg.mask) == 1 else seg.mask
            if isinstance(mask, str):
                masks[str(inst)] = sdk_path(mask, base)
        binary = self.series.is_binary
        if self.series.flag("pngMask"):  # PNGs are only read by the merge: let it judge them
            return (instances, masks) if binary and masks else None
        used = [f for f in self.files
                if (not binary or f in masks.values() or f == self.files[0])
                and (c := self.checks.get(f)) is not None and c.census is not None
                and not c.census.empty]
        return (instances, masks) if len(used) >= 2 else None

    def check_overlaps(self, done: int, total: int) -> Work[None]:
        got = self.merge_inputs()
        if got is None:
            return
        instances, masks = got
        work = merge_files(self.files, instances, binary_mask=self.series.is_binary,
                           png_mask=self.series.flag("pngMask"), masks=masks)
        try:
            while True:
                try:
                    p = next(work)
                except StopIteration as stop:
                    result = stop.value
                    break
                yield Progress(done + p.fraction, total, f"{self.label}: {p.message}")
        except GeneratorExit:  # cancelled by the caller: stop the merge too
            work.close()
            raise
        except SegmapError as exc:
            said = getattr(exc, "sdk_message", None)
            sdk = f" (RedBrick: '{said}')" if said else ""
            self.add("merge-failed", f"RedBrick's merge of this series fails: {exc.message}"
                     f"{sdk}. The task would not be uploaded. {exc.hint or ''}".strip())
            return
        self.out.extend(overlap_findings(self, result, instances, masks))


def degenerate(grid: Grid) -> bool:
    """True when an affine maps voxels onto a plane or a point (no usable geometry)."""
    det = float(np.linalg.det(grid.affine[:3, :3]))
    return not np.isfinite(det) or abs(det) < 1e-12


class SeriesChecker:
    """Checks series one by one, sharing one file cache."""

    def __init__(self, items: ItemsList, taxonomy: Taxonomy | None,
                 cache: FileCache | None = None) -> None:
        self.items = items
        self.taxonomy = taxonomy
        self.cache = cache if cache is not None else FileCache()

    def check(self, ti: int, task: Task, si: int, done: int, total: int) -> Work[list[Finding]]:
        """Findings of series ``si`` of task ``ti``; yields Progress while reading."""
        label = task_label(task)
        yield Progress(done, total, f"{label or f'task {ti + 1}'}, series {si}")
        run = SeriesRun(self.items, self.taxonomy, self.cache, task, ti, si, label)
        if "" in run.series.extra:  # not an object: a format finding already says so
            return []
        run.check_own_map()
        run.check_image()
        run.list_files()
        run.read_files()
        run.check_geometry()
        run.check_mapping()
        yield from run.check_overlaps(done, total)
        return run.out
