"""Checks of one series: its image, its segmentation files, their values and overlaps.

The segmentation files, masks and instance ids are those RedBrick's CLI would pass
to its merge (``app.merge.series_inputs``: paths rewritten by ``sdk_path``, folders
expanded), so a `mask` spelled differently from its `segmentations` entry is
caught here as it would fail there, and the overlap check merges exactly what
RedBrick will.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import MergeError
from app.export import needs_dcm_name
from app.geometry import Grid, Relation, compare_grids
from app.items import (
    ItemsList,
    Task,
    Taxonomy,
    file_extension,
    is_remote,
    mask_converted,
    task_label,
    uploadable,
)
from app.jsonio import file_kind
from app.merge import Entry, series_inputs
from app.progress import Progress, Work, run, within
from app.readers import RUNS, is_dicom_seg
from app.validate._codes import Code
from app.validate._context import SeriesContext
from app.validate._dicom_seg import binary_text, seg_crop_text, seg_note
from app.validate._files import FileCache, access_fault, relation_code, sdk_values
from app.validate._findings import Finding
from app.validate._images import geometry_fault
from app.validate._segment_map import check_map
from app.validate._values import (
    check_binary,
    check_census,
    check_values,
    describe,
    overlap_findings,
)

# Findings that make RedBrick's merge fail (or that it refuses) for the same reason.
MERGE_BLOCKERS = frozenset({
    Code.MASK_SHARED, Code.MASK_LIST, Code.PNG_WITHOUT_BINARY, Code.FILES_MISALIGNED,
    Code.MASK_DIMENSIONS, Code.MASK_SCALED, Code.FILE_MISSING, Code.FILE_UNREADABLE,
    Code.FILE_CORRUPT, Code.NOT_NIFTI, Code.GZIP_NAME_MISMATCH, Code.REMOTE_FILE,
    Code.DICOM_SEG_REFUSED, Code.DICOM_SEG_BINARY})

# What to do about a mask on the image's lattice that is not on its grid.
_GRID_FIX = {
    Relation.SHIFTED: "Save it with the image's origin (the voxels are right, its header "
                      "places them elsewhere), or resample it onto the image.",
    Relation.TRANSPOSED: "Put its array axes back in the image's order (undo the transpose) "
                         "and save it with the image's header.",
    Relation.FLIPPED: "Save it again from the image's header: its affine reverses an axis "
                      "without moving the origin to the other end.",
}


class SeriesRun(SeriesContext):
    """The checks of one series, in the order ``SeriesChecker.check`` runs them."""

    # -- the image ------------------------------------------------------------------

    def check_image(self) -> None:
        paths = self.series.item_paths
        if not paths:
            if "items" not in self.series.extra and "" not in self.series.extra:
                self.add(Code.ITEMS_MISSING, "The series lists no image `items`; RedBrick needs "
                         "the image of every series and refuses or skips the task. Add the "
                         "image file(s) of the series.")
            return
        if any(is_remote(p) for p in paths):
            self.add(Code.GRID_NOT_CHECKED, "The image is a URL or storage key, so its geometry "
                     "was not compared with the masks.")
            return
        local = [p for p in (self.items.resolve(x) for x in paths) if p is not None]
        missing = [p for p in local if not p.is_file()]
        if missing:
            self._missing(missing)
        if self._refused(local) or missing or not local:
            return
        found = self.cache.image_check(local, self.items.path)
        if found.fault is not None:
            self.add(Code.IMAGE_UNREADABLE, found.fault, file=found.file)
        elif found.note is not None:
            self.add(Code.GRID_NOT_CHECKED, found.note, file=found.file)
        self.image = found.grid

    def _missing(self, missing: list[Path]) -> None:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        first = missing[0]
        what = "not found"
        if os.path.exists(first):  # a folder, a FIFO, a device: not an image file
            what = f"is {file_kind(os.stat(first).st_mode)}, not an image file"
        self.add(Code.IMAGE_MISSING, (
            f"Image file {first}{more} {what}. RedBrick warns 'Could not find ...' "
            "but queues the task anyway, which then fails after about 35 s of retries. "
            "Check the `items` paths (relative paths start at the items list's folder; "
            "a DICOM series lists its files, not their folder)."), file=first)

    def _refused(self, local: list[Path]) -> bool:
        """Report image files RedBrick refuses by their name; True when one is not DICOM
        (its image is then not read: RedBrick does not take it at all)."""
        refused = [p for p in local if p.is_file() and not uploadable(p.name)]
        renamed = [p for p in refused if needs_dcm_name(p)]
        bad = [p for p in refused if p not in renamed]
        if renamed:
            self.add(Code.IMAGE_DCM_NAME, (
                f"{len(renamed)} DICOM file(s) have names RedBrick's CLI refuses "
                f"({renamed[0].name}: 'Unsupported file type'), though they are DICOM. "
                "Segmap's upload sends them under .dcm names; for RedBrick's own CLI, export "
                "the list with .dcm names (Export page, or segmap export --dcm-names)."),
                file=renamed[0])
        if bad:
            ext = file_extension(bad[0].name)
            self.add(Code.IMAGE_TYPE_UNSUPPORTED, (
                f"RedBrick does not upload files ending in .{ext} ({bad[0].name}"
                f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}): 'Unsupported file "
                f"type {ext}!'. Convert the image (NIfTI .nii.gz, NRRD or DICOM .dcm), or "
                "rename DICOM files to end in .dcm."), file=bad[0])
        return bool(bad)

    # -- the segmentation files -------------------------------------------------------

    def list_files(self) -> None:
        """The files RedBrick would merge, in its order (folders expanded), as local paths."""
        for entry in self.inputs.entries:
            if entry.local is None:
                self.add(Code.REMOTE_FILE, f"{entry.written} is a URL or storage key; it was "
                         "not checked.", file=entry.written)
                self.complete = False
            elif entry.folder:
                self._folder(entry)
            elif entry.unlisted_folder:
                self.add(Code.FILE_UNREADABLE, (
                    f"{entry.sdk} is a folder among several `segmentations` entries. RedBrick "
                    "lists a folder only when it is the series' one entry; here it takes the "
                    "folder for a file in its label storage and the task fails ('Invalid label "
                    "files'). List the mask files themselves."), file=entry.sdk)
                self.complete = False
                self.files.append(entry.sdk)  # a `mask` naming it still matches it
            else:  # the CLI's path when it exists, else where the file should be
                self.files.append(entry.sdk if os.path.isabs(entry.sdk) else str(entry.local))

    def _folder(self, entry: Entry) -> None:
        folder = entry.sdk
        if entry.listing_error is not None:
            self.add(Code.FILE_UNREADABLE, f"Cannot list the folder {folder}: "
                     f"{entry.listing_error}. Check its permissions.", file=folder)
            self.complete = False
            return
        if entry.non_files:
            self.add(Code.FILE_UNREADABLE, (
                f"The segmentations folder {folder} holds {os.path.basename(entry.non_files[0])}, "
                "which is not a file; RedBrick refuses the whole folder ('Invalid label files'). "
                "List the mask files themselves."), file=folder)
            self.complete = False
        files = [f for f in entry.files if f not in entry.non_files]
        if len(files) > 1:
            self.add(Code.SEGMENTATIONS_DIRECTORY, (
                f"`segmentations` names the folder {folder} ({len(files)} files). RedBrick "
                "merges its files in the order the file system lists them, which is not "
                "defined, so overlap group ids and the first file's role can change between "
                "machines. List the files explicitly, in the order you want."), file=folder)
        self.files.extend(files)

    def read_files(self) -> None:
        png = self.series.flag("pngMask")
        unlisted = {e.sdk for e in self.inputs.entries if e.unlisted_folder}
        # a census keeps the runs a merge reads: the overlap check's (two files or more),
        # or one later in this process (the cache says); building them for nothing cost a
        # third of validating 1,000 nnU-Net label maps
        runs = self.cache.keep_runs or len(set(self.files)) > 1
        for f in dict.fromkeys(self.files):
            if f in unlisted:  # reported above
                continue
            if png:  # RedBrick reads the PNG masks (checked by the merge), not these files
                fault = access_fault(f, nifti=False)
                if fault is not None:
                    self.add(*fault, file=f)
                    self.complete = False
                continue
            check = self.cache.check(f, runs)
            self.checks[f] = check
            if check.code is not None:
                self.add(check.code, check.message or "", file=f)
            elif mask_converted(f):
                self.add(Code.MASK_CONVERTED, (
                    f"{os.path.basename(f)} is an NRRD mask. RedBrick reads NIfTI masks only "
                    "(its CLI fails with 'Invalid mask type'), so Segmap's export and upload write "
                    "it as NIfTI (same voxels, same world grid) and point the items list at "
                    "that copy; the checks here are made on it."), file=f)
            elif check.census is not None and is_dicom_seg(f):
                self.add(Code.DICOM_SEG, seg_note(f), file=f)
                if self.series.is_binary and not any(
                        x.code is Code.DICOM_SEG_BINARY for x in self.out):
                    self.add(Code.DICOM_SEG_BINARY, binary_text(f), file=f)
            if check.census is None:
                self.complete = False
                continue
            for code, message, value in check_census(check.census):
                self.add(code, message, file=f, value=value)

    def check_geometry(self) -> None:
        grids = [(f, c.grid) for f, c in self.checks.items() if c.grid is not None]
        for f, grid in grids:
            bad = geometry_fault(grid) if grid is not None else None
            if bad is not None:
                self.add(Code.GRID_MISMATCH, (
                    f"The header of {os.path.basename(f)} gives no usable geometry (its affine "
                    f"{bad}), so it cannot be placed on the image. Save the mask with its "
                    "image's voxel size and orientation."), file=f)
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
            elif m.relation == Relation.CROP and is_dicom_seg(f):
                then = seg_crop_text(grid.shape[2], self.image.shape[2])
            else:
                then = ("RedBrick expects each segmentation on its image's voxel grid, so this "
                        "mask would be shown in the wrong place or not at all. "
                        + _GRID_FIX.get(m.relation, "Resample it onto the image (same size, "
                                        "voxel size and orientation)."))
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
                self.add(Code.FILES_MISALIGNED, (
                    f"{os.path.basename(f)} is not on the grid of the first segmentation file "
                    f"{os.path.basename(base_file)} ({m.message}). RedBrick merges files voxel by "
                    "voxel by array position and keeps the first file's geometry, so its labels "
                    "would land in the wrong place (or the merge fails). Save every mask of a "
                    "series on the same grid."), file=f)

    def check_mapping(self) -> None:
        smap = self.smap
        if smap is not None and set(smap.segments) - {0} and not self.series.segmentation_paths:
            self.add(Code.NO_SEGMENTATIONS, (
                "The series has a segmentMap but no `segmentations` file, so every category in "
                "it would be an empty label. Add the mask file(s), or remove the segmentMap."))
            return
        for key, mask in self.inputs.list_masks.items():
            inst = int(key)
            self.add(Code.MASK_LIST, (
                f"{describe(self, inst)} names {len(mask)} file(s) as a list in its `mask` "
                f"({', '.join(mask[:2])}). RedBrick's merge takes one path per entry and fails "
                "on a list ('unhashable type: 'list''), so the task is not uploaded; only MHD "
                "pairs uploaded with the RedBrick CLI's --mhd may be lists. Write the mask as "
                "one NIfTI path: \"mask\": \"file.nii.gz\"."), value=inst)
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
            self.add(Code.UINT8_IDS_OVER_255, (
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
            self.add(Code.PNG_WITHOUT_BINARY, (
                "pngMask is set without binaryMask; RedBrick's merge fails ('PNG mask upload only "
                "supports binary masks') and the task is not uploaded. Set \"binaryMask\": true "
                "as well."))

    # -- overlaps: the merge RedBrick will run --------------------------------------------

    def merge_can_show(self) -> bool:
        """True when the merge can run and overlaps are possible (two files with voxels)."""
        smap = self.smap
        if not self.complete or smap is None or not self.files:
            return False
        if any(f.code in MERGE_BLOCKERS for f in self.out) or any(
                g in smap.segments for s in smap.segments.values()
                for g in s.overlapping_groups or []):
            return False  # already reported: the merge would only fail on the same thing
        masks = self.inputs.masks
        binary = self.series.is_binary
        if self.series.flag("pngMask"):  # PNGs are only read by the merge: let it judge them
            return binary and bool(masks)
        used = [f for f in self.files
                if (not binary or f in masks.values() or f == self.files[0])
                and (c := self.checks.get(f)) is not None and c.census is not None
                and not c.census.empty]
        return len(used) >= 2

    def check_overlaps(self, done: int, total: int) -> Work[None]:
        if not self.merge_can_show():
            return
        try:
            result = yield from within(self.inputs.merge(), done, total, str(self.label))
        except MergeError as exc:
            sdk = f" (RedBrick: '{exc.sdk_message}')" if exc.sdk_message else ""
            self.add(Code.MERGE_FAILED, f"RedBrick's merge of this series fails: {exc.message}"
                     f"{sdk}. The task would not be uploaded. {exc.hint or ''}".strip())
            return
        self.out.extend(overlap_findings(self, result))


def degenerate(grid: Grid) -> bool:
    """True when an affine maps voxels onto a plane or a point, or holds NaN (no usable
    geometry)."""
    return geometry_fault(grid) is not None


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
        if "" in task.series[si].extra:  # not an object: a format finding already says so
            return []
        run = SeriesRun(self.items, self.taxonomy, self.cache, task, si, label,
                        series_inputs(self.items, task, si))
        try:
            run.check_own_map()
            run.check_image()
            run.list_files()
            run.read_files()
            run.check_geometry()
            run.check_mapping()
            yield from run.check_overlaps(done, total)
        finally:
            if not self.cache.keep_runs:  # the overlap check read them: one case at a time
                for f in run.files:
                    RUNS.discard(f)
        return run.out


@dataclass(frozen=True)
class SeriesJob:
    """One series to check in a worker process: its task alone in a list with the items
    list's path and root (what its relative paths resolve against), the taxonomy."""

    items: ItemsList
    taxonomy: Taxonomy | None
    task_index: int
    series_index: int


def series_job(items: ItemsList, taxonomy: Taxonomy | None, ti: int, si: int) -> SeriesJob:
    """The job of series ``si`` of task ``ti``: a worker receives that task, not the list."""
    return SeriesJob(ItemsList([items.tasks[ti]], items.path, items.root), taxonomy, ti, si)


def check_series(job: SeriesJob) -> list[Finding]:
    """The findings of one series (``SeriesChecker.check``, run to its end), in a worker."""
    # a worker's runs would never reach a merge: each worker kept up to 768 MB of them
    checker = SeriesChecker(job.items, job.taxonomy, FileCache(keep_runs=False))
    return run(checker.check(job.task_index, job.items.tasks[0], job.series_index, 0, 1))
