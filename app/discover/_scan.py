"""Scan a folder: find image series and volumes, masks and label tables, and pair them.

What a user waits for is reading: so images are read from their headers only
(NIfTI header, DICOM headers through :mod:`app.readers.dicom`), and each mask is read
exactly once, for its census (values and voxel counts), which decides its import
shape. Only a volume that neither folder, name nor header places (a ``short`` NRRD
called ``partial_overlaps-1``) has its values read for its role, and an image's
stop at its first chunk (:mod:`app.discover._roles`). Pairing itself works on names
and header geometry and costs nothing next to that. The order:

1. walk the tree once (hidden files and macOS ``._`` files skipped);
2. DICOM headers -> series (:func:`app.readers.dicom.scan_dicom`);
3. NIfTI / NRRD headers -> images and masks (by folder, name, header, then values);
   a mask-named folder holding images is not taken for a mask folder, so the folder
   chosen (the dataset or any parent) does not change the pairing;
4. label tables (``dataset.json``, colour tables, ...);
5. pair masks with images (:mod:`app.discover._pairing`), confirmed by geometry;
6. DICOM SEG and RTSTRUCT files -> binary NIfTI masks in a cache, each paired with the
   series it references (:mod:`app.discover._derived`);
7. census of every mask, then cases in shapes I / II / III (:mod:`app.discover._cases`).

Steps 3 and 7 read one file per call, on ``jobs`` processes (:func:`app.parallel.map_work`:
the headers 64 files to a request, the censuses up to 4 MB of files); everything that
weighs one file against another (roles of one-byte volumes, pairing, cases) runs here on
their results, taken in the walk's order, so the ScanResult is the same for any ``jobs``.
From step 5 on, each step is a ``ScanProgress`` with the cases so far
(:mod:`app.discover._sketch`), filled in as their censuses come back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from app.discover import _layouts as layouts
from app.discover import _outputs as outputs
from app.discover._cases import Case, make_cases
from app.discover._derived import (
    Derived,
    DerivedMask,
    convert_dicom_masks,
    derived_root,
    is_derived_folder,
)
from app.discover._layouts import Layout
from app.discover._outputs import OwnOutput
from app.discover._pairing import (
    ImageRef,
    MaskRef,
    Pair,
    Pairing,
    Unpaired,
    forget_folders,
    image_keys,
    pair_masks,
    series_keys,
)
from app.discover._roles import (
    RoleOverride,
    census_role,
    override_for,
    volume_chunks,
    volume_role,
)
from app.discover._sidecars import (
    SIDECAR_SUFFIXES,
    LabelTable,
    TableKind,
    nifti_label_table,
    read_sidecar,
    seg_nrrd_table,
)
from app.discover._sketch import Sketches
from app.errors import InputError, SegmapError
from app.geometry import Grid, GridMatch, compare_grids
from app.jsonio import file_kind
from app.parallel import IN_PROCESS, Jobs, Outcome, map_work, warm_up
from app.progress import Progress, Work
from app.readers import (
    RUNS,
    Census,
    Format,
    NiftiInfo,
    ObjectKind,
    Runs,
    census,
    is_volume_name,
    nifti_info,
    seg_as_nifti,
    split_suffix,
    volume_format,
    walk_folder,
)
from app.readers.dicom import scan_dicom

# Files that are certainly not DICOM: not worth opening during the DICOM scan.
_NOT_DICOM = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".pdf", ".md", ".rst",
              ".html", ".htm", ".xml", ".py", ".ipynb", ".zip", ".tar", ".gz", ".bz2", ".xz",
              ".7z", ".npy", ".npz", ".pkl", ".h5", ".hdf5", ".mat", ".mha", ".mhd", ".raw",
              ".vtk", ".stl", ".obj", ".ply", ".mgz", ".yaml", ".yml", ".toml", ".cfg", ".ini",
              ".log", ".sh", ".bat", ".exe", ".dll", ".so", ".pth", ".pt", ".onnx")
_OTHER_VOLUMES = (".mha", ".mhd", ".mgz")
# Why a DICOM series that is not an image is left out (SEG and RTSTRUCT are converted).
_NOT_PAIRED = {
    ObjectKind.LOCALIZER: "a localizer (scout), not a volume to annotate",
    ObjectKind.SR: "a structured report, not an image",
}
_CONVERTED = (ObjectKind.SEG, ObjectKind.RTSTRUCT)
# Volume headers a worker reads per request: one takes about a millisecond, and each
# request costs the parent about as much (sending it, taking its answer back): 64 at once
# against 16 cut the parent's CPU by 10-30% on 1,000 nnU-Net cases and 2,340 small masks.
_HEADERS_AT_ONCE = 64
_CENSUS_BYTES = 4 << 20  # compressed bytes of masks a worker censuses per request


@dataclass(frozen=True)
class Volume:
    """A NIfTI or NRRD file with the role Segmap gave it."""

    path: Path
    label: str  # relative to the scanned folder
    format: Format  # NIfTI or NRRD
    role: str  # "image" | "mask"
    why: str  # what decided the role
    grid: Grid | None
    dtype: str
    error: str | None = None
    evidence: tuple[str, ...] = ()  # every clue weighed when the role was not plain

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.label, "format": self.format, "role": self.role,
                               "why": self.why, "dtype": self.dtype}
        if self.evidence:
            out["evidence"] = list(self.evidence)
        if self.grid is not None:
            g = self.grid.to_json()
            out.update(shape=g["shape"], spacing=g["spacing"], orientation=g["orientation"])
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class ScanResult:
    """Everything a scan found (see :meth:`to_json` for the CLI's shape)."""

    root: Path
    series: list[Any] = field(default_factory=list)  # app.readers.dicom.DicomSeries
    volumes: list[Volume] = field(default_factory=list)  # images and masks
    censuses: dict[Path, Census] = field(default_factory=dict)
    tables: list[LabelTable] = field(default_factory=list)
    pairing: Pairing = field(default_factory=Pairing)
    cases: list[Case] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    own_outputs: list[OwnOutput] = field(default_factory=list)  # Segmap's own outputs
    derived: list[Derived] = field(default_factory=list)  # SEG / RTSTRUCT converted to masks

    @property
    def images(self) -> list[Volume]:
        return [v for v in self.volumes if v.role == "image"]

    @property
    def masks(self) -> list[Volume]:
        return [v for v in self.volumes if v.role == "mask"]

    def no_case_reason(self, hint: str = "pass --image '{file}' (or a glob) if one is the "
                                         "image") -> str | None:
        """Why the scan found no case, plainly, and what to try (None when it found some);
        ``hint`` says how to make ``{file}`` an image (the CLI's flag, the wizard's column)."""
        if self.cases:
            return None
        images = len(self.images) + sum(1 for s in self.series if s.kind == ObjectKind.IMAGE)
        if not self.volumes and not self.series:
            return (f"0 cases: no NIfTI, NRRD or DICOM file under {self.root}; choose the "
                    "folder that holds the images and masks.")
        if not self.masks:
            return f"0 cases: {images} image(s) and no mask."
        if images:
            return (f"0 cases: {images} image(s) and {len(self.masks)} mask(s), none paired "
                    "(see 'Not paired').")
        whys = Counter(_short_why(v.why) for v in self.masks)
        said = "; ".join(f"{n} {w}" if len(whys) > 1 else w for w, n in whys.most_common(3))
        n = len(self.masks)
        taken = "taken as a mask" if n == 1 else f"{'both' if n == 2 else 'all'} taken as mask(s)"
        file = self.masks[0].label.replace("'", "?")
        return (f"0 cases: {len(self.volumes)} volume(s), {taken} ({said}); "
                f"{hint.format(file=file)}.")

    def rel(self, path: Path) -> str:
        """A path relative to the scanned folder (POSIX separators), else absolute."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def to_json(self) -> dict[str, Any]:
        """``{"root", "series", "volumes", "masks", "cases", "unpaired", "tables", "warnings",
        "own_outputs", "derived"}``."""
        series = []
        for s in self.series:
            j = s.to_json()  # "files" is a count: a series can hold thousands
            if j.get("folder"):
                j["folder"] = self.rel(Path(j["folder"]))
            series.append(j)
        masks = []
        own = {t.path: t for t in self.tables if t.path in self.censuses}  # header names
        for v in self.masks:
            j = v.to_json()
            c = self.censuses.get(v.path)
            if c is not None:
                cj = c.to_json()
                j.update(values=cj["values"], binary=c.binary, empty=c.empty, flags=cj["flags"])
            if v.path in own:
                j["labels"] = {str(k): n for k, n in sorted(own[v.path].names.items())}
            masks.append(j)
        return {
            "root": str(self.root),
            "series": series,
            "volumes": [v.to_json() for v in self.images],
            "masks": masks,
            "cases": [self.case_json(c) for c in self.cases],
            "unpaired": [u.to_json() for u in self.unpaired],
            "tables": [{"file": self.rel(t.path), "kind": t.kind,
                        "labels": {str(k): n for k, n in sorted(t.names.items())}}
                       for t in self.tables if t.path not in self.censuses],
            "warnings": list(self.warnings),
            "own_outputs": [x.to_json() for x in self.own_outputs],
            "derived": [d.to_json() for d in self.derived],
        }

    def case_json(self, c: Case) -> dict[str, Any]:
        """``{"name", "image", "segmentations", "shape", "layout", "evidence", ...}``."""
        im = c.image
        sources = self.derived_of(c)
        return {
            "name": c.name,
            "image": im.label,
            "image_files": [self.rel(f) for f in im.files] if im.is_dicom else [im.label],
            "series_uid": im.series_uid,
            "segmentations": [self.rel(p) for p in c.masks],
            "shape": c.shape,
            "layout": c.layout,
            "evidence": c.evidence,
            "other_images": [o.label for o in c.others],
            "derived_from": [d.label for d in sources],
        }

    def derived_of(self, c: Case) -> list[Derived]:
        """The SEG / RTSTRUCT files a case's masks were converted from (none for most)."""
        masks = set(c.masks)
        return [d for d in self.derived
                if d.source in masks or any(m.path in masks for m in d.masks)]


def _short_why(why: str) -> str:
    """A census's why, short: ``uint8, few values``."""
    return why.split(",")[0] + ", few values" if ": few values" in why else why


def _walk(result: ScanResult) -> tuple[list[Path], list[Path], list[Path]]:
    """(volumes, sidecars, other files) under the root; hidden entries skipped, Segmap's
    own output folders and journals left out (``result.own_outputs``)."""
    vols, sides, other = [], [], []
    root, warnings = result.root, result.warnings

    def onerror(exc: OSError) -> None:
        warnings.append(f"Cannot read folder {exc.filename}: {exc.strerror or exc}")

    def odd(path: Path, what: str) -> None:  # a FIFO, a device, a socket: never opened
        warnings.append(f"left out: {result.rel(path)} is {what}; Segmap reads only "
                        "regular files")

    cache = derived_root().resolve()

    def kept(folder: Path) -> bool:
        if folder == cache or is_derived_folder(folder):  # a cache inside the scanned folder
            result.own_outputs.append(OwnOutput(result.rel(folder) + "/",
                                                "DICOM SEG / RTSTRUCT masks converted by Segmap"))
            return False
        what = outputs.converted_folder(folder)
        if what is not None:
            result.own_outputs.append(OwnOutput(result.rel(folder) + "/", what))
        return what is None

    unsupported = 0
    for base, dirnames, filenames in walk_folder(root, onerror, odd):
        dirnames[:] = [d for d in dirnames if kept(base / d)]
        for f in filenames:
            low = f.lower()
            if low.endswith(outputs.JOURNAL_SUFFIX) and \
                    (what := outputs.output_file(base / f)) is not None:
                result.own_outputs.append(OwnOutput(result.rel(base / f), what))
            elif is_volume_name(low):
                vols.append(base / f)
            elif low.endswith(SIDECAR_SUFFIXES):
                sides.append(base / f)
            elif low.endswith(_OTHER_VOLUMES):
                unsupported += 1
            elif not low.endswith(_NOT_DICOM):
                other.append(base / f)
    if unsupported:
        warnings.append(f"{unsupported} MetaImage / MGH files (.mha, .mhd, .mgz) were skipped: "
                        "Segmap reads NIfTI, NRRD and DICOM; convert them to NIfTI.")
    return vols, sides, other


@dataclass(frozen=True)
class _VolumeJob:
    """One volume file to read the header of (sent to a worker)."""

    path: Path
    root: Path
    rel: str
    mixed: frozenset[Path]
    override: RoleOverride | None = None


def _read_volume(job: _VolumeJob) -> tuple[Volume | OwnOutput, NiftiInfo | None, bool]:
    """(the volume, its NIfTI header, whether only its one-byte voxels said mask)."""
    path = job.path
    r = volume_role(path, job.root, job.mixed, job.override)
    if r.output:
        return OwnOutput(job.rel, f"a {r.output} it wrote"), None, False
    return Volume(path, job.rel, volume_format(path), r.role, r.why, r.grid, r.dtype,
                  r.error), r.info, r.tentative


def _mixed_folders(root: Path, series: Sequence[Any], volumes: Sequence[Path]
                   ) -> frozenset[Path]:
    """Mask-named folders holding images (``layouts.mixed_folders``), from what tells an
    image without any folder's help: a DICOM image series, a volume named as an image."""
    held = [_common_folder(s.files) for s in series if s.kind is ObjectKind.IMAGE]
    held += [p.parent for p in volumes if layouts.names_image(p)]
    return layouts.mixed_folders(root, held)


def _dicom_images(series: Sequence[Any], root: Path, mixed: frozenset[Path]
                  ) -> tuple[list[ImageRef], list[Unpaired]]:
    images, skipped = [], []
    by_folder: dict[Path, int] = {}
    for s in series:
        by_folder[_common_folder(s.files)] = by_folder.get(_common_folder(s.files), 0) + 1
    for s in series:
        folder = _common_folder(s.files)
        rel = folder.relative_to(root).as_posix() if folder != root else "."
        if by_folder[folder] == 1:
            label = rel
        elif len(s.files) == 1:  # a SEG, an SR, a multi-frame image: its file says which
            label = Path(s.files[0]).relative_to(root).as_posix()
        else:
            label = f"{rel} [series {s.series_number if s.series_number is not None else s.uid}]"
        if s.kind in _CONVERTED:
            continue  # converted to masks, paired with the series it references
        if s.kind is not ObjectKind.IMAGE:
            what = _NOT_PAIRED.get(s.kind, f"a {s.kind} object")
            skipped.append(Unpaired(label, "series", what))
            continue
        # case/DICOM/*.dcm is the case's series: named after case/
        name = layouts.series_case_name(folder, root, mixed, s.patient, s.description or "")
        if by_folder[folder] > 1:
            name = f"{name}-S{s.series_number}" if s.series_number is not None else \
                f"{name}-{s.uid[-8:]}"
        error = "; ".join(s.warnings) if s.grid is None else None
        images.append(ImageRef(label, tuple(s.files), folder, s.grid, Format.DICOM, name,
                               series_keys(folder, root, s.patient), s.uid, error,
                               s.series_number, s.description or ""))
    return images, skipped


def _common_folder(files: Sequence[Path]) -> Path:
    return Path(os.path.commonpath([str(Path(f).parent) for f in files])) if files else Path()


def scan(root: str | os.PathLike[str], roles: Sequence[RoleOverride] = (),
         jobs: Jobs = IN_PROCESS, keep_runs: bool = True) -> Work[ScanResult]:
    """Scan ``root`` (see the module docstring); yields Progress, returns the ScanResult.

    ``roles``: the user's word on which files are images and which masks (a later
    override wins); an override that matches no file is a warning. ``jobs``: where the
    per-file work runs (volume headers, the census of each mask; :mod:`app.parallel`);
    the result is the same for every ``jobs``. ``keep_runs``: keep each label map's runs
    for a later merge (``RUNS``); a scan that merges nothing (``segmap scan``) saves
    sending them from the workers (half of what a census sends back)."""
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        raise InputError(f"{root} is {file_kind(base.stat().st_mode)}, not a folder."
                         if base.exists() else f"{root} not found.",
                         "Give the folder that holds the images and masks.")
    result = ScanResult(base)
    forget_folders()
    warm_up(jobs)  # the workers' process starts while the folder is walked
    yield Progress(0, 0, "finding files")
    vol_paths, side_paths, other = _walk(result)
    if other:
        result.series = yield from scan_dicom(other)
    mixed = _mixed_folders(base, result.series, vol_paths)
    infos: dict[Path, NiftiInfo] = {}
    tentative: set[Path] = set()
    heads = [_VolumeJob(p, base, rel, mixed, override_for(rel, roles))
             for p in vol_paths for rel in (result.rel(p),)]
    read = yield from map_work(_read_volume, heads, jobs, batch=_HEADERS_AT_ONCE,
                               what=lambda h: f"reading headers: {h.rel}")
    for p, outcome in zip(vol_paths, read, strict=True):
        vol, info, weak = outcome.unwrap()  # only an internal error: a bad file is a Volume
        if isinstance(vol, OwnOutput):
            result.own_outputs.append(vol)
            continue
        result.volumes.append(vol)
        if info is not None and vol.role == "mask":
            infos[p] = info
        if weak:
            tentative.add(p)
    result.warnings.extend(f"{o.said} matches no volume under {base}" for o in roles
                           if not any(o.matches(v.label) for v in result.volumes))
    for p in side_paths:
        table, problem = read_sidecar(p)
        if table is not None:
            result.tables.append(table)
        elif (what := outputs.output_file(p)) is not None:
            result.own_outputs.append(OwnOutput(result.rel(p), what))
        if problem:
            result.warnings.append(problem)
    yield from _settle_one_byte(result, infos, tentative, keep_runs)
    images, skipped = _dicom_images(result.series, base, mixed)
    for v in result.images:
        images.append(ImageRef(v.label, (v.path,), v.path.parent, v.grid, v.format,
                               layouts.case_name_of(v.path, base, mixed),
                               image_keys(v.path, base, mixed), error=v.error))
    masks = [MaskRef(v.path, v.label, v.grid, v.error) for v in result.masks]
    listed = {k: v for t in result.tables for k, v in t.pairs.items()}
    result.pairing = pair_masks(images, masks, base, listed, mixed)
    result.unpaired = skipped + result.pairing.unpaired
    sketches = Sketches(result.pairing.pairs)
    yield sketches.step(Progress(0, 0, "masks paired with their images"))
    yield from _census_all(result, infos, jobs, sketches, keep_runs)
    yield from _dicom_masks(result, images, keep_runs)
    result.cases = make_cases(result.pairing, result.censuses,
                              {d.folder: d.source.name for d in result.derived
                               if not d.native})
    for case in result.cases:  # the case says what RedBrick's SDK would have done
        case.note = "; ".join(x for x in [case.note, *(d.sdk_text for d in
                                                       result.derived_of(case) if not d.native)]
                              if x)
    result.warnings.extend(result.pairing.notes)
    _refine_layouts(result)
    result.warnings.extend(x.note for x in result.own_outputs)
    yield Progress(1, 1, f"{len(result.cases)} cases")
    return result


def _dicom_masks(result: ScanResult, images: Sequence[ImageRef], keep_runs: bool) -> Work[None]:
    """SEG and RTSTRUCT files as binary masks of the series they reference: converted (or
    found in the cache), paired, censused, their label tables read (``_derived``)."""
    # A SEG RedBrick's SDK takes as it is stays itself (a label map of segment numbers,
    # uploaded as --dicom-seg converts it), and so does an RT Structure Set whose ROIs do not
    # overlap (keyed by ROI name, --rt-struct), when every DICOM mask of the scan can and no
    # other mask shares it: one list holds one kind of mask, as RedBrick's CLI uploads it in
    # a run. Such files are not converted at all.
    by_file = {im.files[0]: im for im in images if im.is_dicom and im.files}
    derived, failed, warnings = yield from convert_dicom_masks(result.series, result.rel,
                                                               natives=not result.masks)
    natives = _natives(result, derived, by_file)
    if derived and all(d.native for d in derived) and len(natives) != len(derived):
        # not all kept after all (an image the pairing could not read): convert them
        derived, failed, warnings = yield from convert_dicom_masks(result.series, result.rel)
        natives = _natives(result, derived, by_file)
    result.derived, result.warnings = derived, result.warnings + warnings
    result.unpaired.extend(Unpaired(f.label, "mask", f.reason) for f in failed)
    given: set[str] = set()
    for d in derived:
        image = by_file.get(d.series_file) if d.series_file is not None else None
        if image is None or image.grid is None:
            continue
        if d.source in natives:
            _pair_itself(result, d, image, *natives[d.source])
            given.add(image.label)
            continue
        what = "DICOM SEG" if d.kind == "SEG" else "RT Structure Set"
        for m in d.masks:
            label = f"{d.label} -> {m.path.name}"
            try:
                info = nifti_info(m.path)
                grid = Grid.of(info.shape[:3], info.affine)
                result.censuses[m.path] = census(m.path, info, keep_runs=keep_runs)
            except SegmapError as exc:
                result.unpaired.append(Unpaired(label, "mask", exc.message))
                continue
            match = compare_grids(image.grid, grid)
            if not match.aligned:  # never: written on the series' grid
                result.unpaired.append(Unpaired(label, "mask", match.message))
                continue
            result.pairing.pairs.append(Pair(
                image, MaskRef(m.path, label, grid), Layout.DICOM_FOLDER,
                f"segment {m.name!r} of the {what} {d.label} ({d.how})", match))
            table, _ = read_sidecar(m.path.with_name(split_suffix(m.path.name)[0]
                                                     + "_labels.txt"))
            if table is not None:
                result.tables.append(table)
            if meaning := _meaning(m):
                result.tables.append(LabelTable(m.path, TableKind.DICOM_CODES, {1: meaning}))
            given.add(image.label)
    result.derived = [replace(d, native=True) if d.source in natives else d
                      for d in result.derived]
    # the series' "no mask found" entry is wrong once its SEG gave masks
    result.unpaired = [u for u in result.unpaired
                       if not (u.kind == "series" and u.file in given)]


def _natives(result: ScanResult, derived: Sequence[Derived], by_file: dict[Path, ImageRef]
             ) -> dict[Path, tuple[Grid, Census, GridMatch]]:
    """The SEGs, or the RT Structure Sets, to keep as they are (see ``_dicom_masks``): all
    of them or none (RedBrick's CLI reads a run's masks as one kind)."""
    if result.masks or not derived or len({d.kind for d in derived}) > 1:
        return {}
    out = {}
    for d in derived:
        image = by_file.get(d.series_file) if d.series_file is not None else None
        if d.sdk is not None or image is None or image.grid is None:
            return {}
        if d.kind == "RTSTRUCT":  # unless its ROIs overlap: there the later one would win
            rois = [m.name for m in d.masks]
            if d.overlapping or len(set(rois)) != len(rois) or not rois:
                return {}
            out[d.source] = (image.grid, _roi_census(d, image.grid),
                             compare_grids(image.grid, image.grid))
            continue
        try:
            img = seg_as_nifti(d.source)
            grid = Grid.of(img.shape[:3], img.affine)
            found = census(d.source)
        except SegmapError:
            return {}
        match = compare_grids(image.grid, grid)
        if not match.aligned:  # a SEG of part of the series: the SDK would store that crop
            return {}
        out[d.source] = (grid, found, match)
    return out


def _roi_census(d: Derived, grid: Grid) -> Census:
    """A structure set's census as its label map holds it: each ROI valued by its place in
    the file, with its voxel count (they do not overlap)."""
    counts: dict[float, int] = {float(m.number): m.voxels for m in d.masks if m.voxels}
    total = int(np.prod(grid.shape))
    return Census(d.source, tuple(grid.shape), "uint8" if len(d.masks) < 250 else "uint16",
                  np.asarray(grid.affine), tuple(float(z) for z in grid.spacing),
                  {0.0: total - sum(counts.values()), **counts})


def _pair_itself(result: ScanResult, d: Derived, image: ImageRef, grid: Grid, found: Census,
                 match: GridMatch) -> None:
    """The SEG or RTSTRUCT ``d`` itself as the mask of ``image``, named by its segments or
    ROIs."""
    result.censuses[d.source] = found
    what, flag = ("DICOM SEG", "--dicom-seg") if d.kind == "SEG" else \
        ("RT Structure Set", "--rt-struct")
    result.pairing.pairs.append(Pair(
        image, MaskRef(d.source, d.label, grid), Layout.DICOM_FOLDER,
        f"the {what} {d.label} ({d.how}), kept as it is: RedBrick's SDK takes it "
        f"(upload with {flag})", match))
    kind = TableKind.DICOM_SEG if d.kind == "SEG" else TableKind.RTSTRUCT
    result.tables.append(LabelTable(d.source, kind,
                                    {m.number: m.name for m in d.masks if m.name}))
    if codes := {m.number: meaning for m in d.masks if (meaning := _meaning(m))}:
        result.tables.append(LabelTable(d.source, TableKind.DICOM_CODES, codes))


def _meaning(mask: DerivedMask) -> str:
    """What a segment's coded concept says it is (``Kidney Left``), or ""."""
    code = mask.code or {}
    words = [str((code.get(k) or {}).get("meaning") or "") for k in ("type", "modifier")]
    return " ".join(w for w in words if w)


def _settle_one_byte(result: ScanResult, infos: dict[Path, NiftiInfo], tentative: set[Path],
                     keep_runs: bool) -> Work[None]:
    """Image or mask for the volumes only their one-byte voxels called masks, strongest
    first: a dataset's list of pairs, a label table beside them, the case's other names
    (``case`` beside ``case_seg`` is the image), then the census (read once: a mask keeps
    it) and, for many values, whether neighbours share them (:func:`census_role`)."""
    listed = {k: v for t in result.tables for k, v in t.pairs.items()}
    todo = [v for v in result.volumes if v.path in tentative and v.grid is not None]
    named: dict[tuple[Path, str], tuple[str, str]] = {}  # (folder, case key) -> mask-named
    for m in result.masks if todo else ():
        parsed = layouts.parse_name(m.path)
        if parsed.mask_token and parsed.key:
            named.setdefault((m.path.parent, parsed.key), (m.path.name, parsed.mask_token))
    for i, v in enumerate(todo):
        yield Progress(i, len(todo), f"image or mask? {v.path.name}")
        clues = [f"{v.dtype} voxels: a mask's type, and an 8-bit image's"]
        role, why = _one_byte_clue(result, v, listed, named)
        if role is None:
            try:
                c = census(v.path, infos.get(v.path), keep_runs=keep_runs)
            except SegmapError:
                continue  # left a mask: its census fails again, and says why
            role, why = census_role(c, partial(volume_chunks, v.path, infos.get(v.path)))
            if role == "mask":
                result.censuses[v.path] = c
        clues.append(why)
        k = result.volumes.index(v)
        result.volumes[k] = replace(v, role=role, why=why, evidence=tuple(clues))


def _one_byte_clue(result: ScanResult, v: Volume, listed: dict[Path, Path],
                   named: dict[tuple[Path, str], tuple[str, str]]) -> tuple[str | None, str]:
    """What besides its values says a one-byte volume's role, else (None, "")."""
    if v.path in listed:
        return "mask", "a label in the dataset's list of pairs"
    if v.path in listed.values():
        return "image", "an image in the dataset's list of pairs"
    stem = split_suffix(v.path.name)[0]
    beside = [t for t in result.tables if t.path.parent == v.path.parent
              and split_suffix(t.path.name)[0] == stem]
    if beside or (nifti_label_table(v.path) if v.format is Format.NIFTI
                  else seg_nrrd_table(v.path)) is not None:
        where = f"{beside[0].path.name} beside it" if beside else "its header"
        return "mask", f"a label table in {where}"
    name = layouts.parse_name(v.path)
    mask = named.get((v.path.parent, name.key)) if name.mask_token is None else None
    if mask is not None:
        return "image", f"the image of {mask[0]} (its name without '{mask[1]}')"
    return None, ""


@dataclass(frozen=True)
class _CensusJob:
    """One mask to census (unless its census is ``known``) and read the label table of."""

    path: Path
    format: Format
    info: NiftiInfo | None
    known: bool
    keep_runs: bool = True


@dataclass(frozen=True)
class _Censused:
    """A mask's census (or why it failed), its label table, and the runs the census kept
    (``RUNS``: the later merge reads them instead of the file; a worker sends them back)."""

    census: Census | None
    error: str | None
    table: LabelTable | None
    runs: Runs | None


def _census_one(job: _CensusJob) -> _Censused:
    found, error, runs = None, None, None
    try:
        if not job.known:
            found = census(job.path, job.info, keep_runs=job.keep_runs)
            runs = RUNS.get(job.path)
            if runs is not None and multiprocessing.parent_process() is not None:
                RUNS.clear()  # a worker's: sent to the scan's process, which keeps them
    except SegmapError as exc:
        error = exc.message
    table = nifti_label_table(job.path) if job.format is Format.NIFTI else \
        seg_nrrd_table(job.path)
    return _Censused(found, error, table, runs)


def _census_batch(masks: Sequence[Volume]) -> int:
    """Masks a worker censuses per request: as many as make ``_CENSUS_BYTES`` on disk (the
    117 small binary masks of a TotalSegmentator case take a millisecond each, as long as a
    request to a worker), at most ``_HEADERS_AT_ONCE``; a large label map goes alone."""
    sizes = [os.stat(v.path).st_size for v in masks[:64] if v.path.is_file()]
    mean = sum(sizes) / len(sizes) if sizes else _CENSUS_BYTES
    return max(1, min(_HEADERS_AT_ONCE, int(_CENSUS_BYTES // max(1.0, mean))))


def _census_all(result: ScanResult, infos: dict[Path, NiftiInfo], jobs: Jobs,
                sketches: Sketches, keep_runs: bool) -> Work[None]:
    """Census every readable mask once; unreadable ones become unpaired entries. Each
    census fills in its case's sketch as it comes in, and every step shows them."""
    todo = [v for v in result.masks if v.grid is not None]
    failed: set[Path] = set()
    # (a one-byte volume's census was read for its role: known)
    asked = [_CensusJob(v.path, v.format, infos.get(v.path), v.path in result.censuses,
                        keep_runs) for v in todo]

    def counted(i: int, outcome: Outcome[_Censused]) -> None:
        got, path = outcome.value if outcome.ok else None, todo[i].path
        if got is None or got.error is not None:
            sketches.counted(path, None)
        else:  # a one-byte volume's census is known already
            sketches.counted(path, got.census if got.census is not None
                             else result.censuses.get(path))

    work = map_work(_census_one, asked, jobs, batch=_census_batch(todo), on_done=counted,
                    what=lambda job: f"census: {job.path.name}")
    done = yield from sketches.during(work)
    for v, outcome in zip(todo, done, strict=True):
        if not outcome.ok:  # an internal error: the case is left out, said as its reason
            failed.add(v.path)
            result.unpaired.append(Unpaired(v.label, "mask", str(outcome.error)))
            continue
        got = outcome.unwrap()
        if got.census is not None:
            result.censuses[v.path] = got.census
        if got.runs is not None:
            RUNS.put(v.path, got.runs)
        if got.error is not None:
            failed.add(v.path)
            result.unpaired.append(Unpaired(v.label, "mask", got.error))
        if got.table is not None:
            result.tables.append(got.table)
    if failed:  # a mask that cannot be read cannot be imported: drop it from its pair
        result.pairing.pairs = [p for p in result.pairing.pairs if p.mask.path not in failed]
    yield sketches.step(Progress(len(todo), len(todo), "census done"), fresh=True)


def _refine_layouts(result: ScanResult) -> None:
    """Name TotalSegmentator output that names alone did not reveal.

    Its ``--ml`` files carry label names in a NIfTI header extension; its default
    output folder (one binary mask per structure) holds ``statistics.json`` or
    ``preview_*.png`` beside the masks.
    """
    labelled = {t.path for t in result.tables if t.kind == TableKind.NIFTI_EXT}
    for case in result.cases:
        if case.layout != Layout.GENERIC:
            continue
        if not case.shape.binary and any(m in labelled for m in case.masks):
            case.layout = Layout.TOTALSEG
            case.note = "label names in the NIfTI header (TotalSegmentator --ml)"
        elif case.shape.binary:
            folder = case.masks[0].parent
            if (folder / "statistics.json").exists() or any(folder.glob("preview*.png")):
                case.layout = Layout.TOTALSEG
