"""One case of the report, gathered and then let go: its thumbnails written as PNG, and a
small record (grids, mapping and where each category came from, statistics, findings,
sign-off, file hashes) that is all the report keeps of it once its image is dropped.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nibabel.orientations import aff2axcodes

from app.errors import SegmapError
from app.geometry import Grid
from app.items import Category, category_label
from app.jsonio import atomic_path, open_regular
from app.mapping import Suggestion
from app.preview import (
    VIEWS,
    CasePreview,
    GeometryMismatchError,
    PreviewRequest,
    SegmentStats,
    load_case_preview,
    value_stats,
)
from app.progress import Work
from app.readers import image_grid
from app.report._png import png_bytes
from app.report._thumbs import thumbnails
from app.session import CaseState, Row, Session, SignOff
from app.validate import Finding

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class MappingRow:
    """One value (or binary mask) of a case: its category and where that came from."""

    value: int | None
    category: str | None
    origin: str
    status: str
    colour: tuple[int, int, int]


@dataclass
class CaseRecord:
    """What the report keeps of one case (no voxels)."""

    index: int
    name: str
    image_grid: str = ""
    mask_grids: list[tuple[str, str]] = field(default_factory=list)
    relation: str = ""
    thumbs: dict[str, str] = field(default_factory=dict)  # view -> file name in the folder
    mapping: list[MappingRow] = field(default_factory=list)
    stats: list[SegmentStats] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sign_off: SignOff | None = None
    hashes: list[tuple[str, str]] = field(default_factory=list)  # (path, sha256)
    errors: list[str] = field(default_factory=list)
    included: bool = True
    binary: bool = False  # shape III: values are instance ids, not values in a file


@dataclass(frozen=True)
class CasePlan:
    """What the report needs of a case, taken from the session on the caller's thread
    (``plan_case``), so the work never reads the session the user may be editing."""

    name: str
    included: bool
    sign_off: SignOff | None
    mapping: tuple[MappingRow, ...]
    colours: dict[int, tuple[int, int, int]]
    request: PreviewRequest | None
    measured: bool  # the series has segmentations to measure
    keys: tuple[tuple[int, str, Category | None], ...]  # (instance, segmentMap key, category)
    image_files: tuple[Path, ...]
    masks: tuple[Path, ...]
    error: str = ""  # why the preview request could not be made
    binary: bool = False  # one mask per category: its value is an instance id Segmap chose


def plan_case(session: Session, case: CaseState) -> CasePlan:
    """The frozen plan of ``case`` (call it where the session lives)."""
    request, error = None, ""
    try:
        request = session.preview_request(case)
    except SegmapError as exc:
        error = f"preview: {exc}"
    smap = case.task.segment_map_of(case.series_index)
    keys = tuple((inst, smap.key_of(inst), copy.deepcopy(seg.category))
                 for inst, seg in smap.segments.items()) if smap is not None else ()
    return CasePlan(case.name, case.included, case.sign_off, tuple(_mapping(session, case)),
                    dict(session.colours(case)), request, bool(case.series.segmentation_paths),
                    keys, tuple(case.image.files), tuple(case.masks), error,
                    binary=case.binary)


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in chunks (bounded memory)."""
    h = hashlib.sha256()
    with open_regular(path, "file") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def grid_text(grid: Grid) -> str:
    """A grid as people read it: ``64x64x32 voxels, 1 x 1 x 2.5 mm, RAS``."""
    spacing = " x ".join(f"{s:g}" for s in (round(float(x), 3) for x in grid.spacing))
    codes = "".join(str(c) for c in aff2axcodes(grid.affine))
    return f"{'x'.join(map(str, grid.shape))} voxels, {spacing} mm, {codes}"


def _suggested(suggestion: Suggestion) -> str:
    words = ", ".join(x for x in (suggestion.source, suggestion.how) if x)
    return f"{words}, {suggestion.confidence:.0%}" if words else f"{suggestion.confidence:.0%}"


def _origin(case: CaseState, row: Row) -> str:
    """Where a row's category came from: by hand, a suggestion, or the items list."""
    sugg = row.suggestion
    if row.category is None:
        if sugg is not None and sugg.category is not None:
            return f"not mapped; {category_label(sugg.category)} was suggested ({_suggested(sugg)})"
        return "not mapped"
    if row.key is not None and row.key in case.by_hand:
        return "mapped by hand"
    if sugg is not None:
        unreviewed = " (not reviewed)" if row.key in case.unreviewed else ""
        return f"suggestion: {_suggested(sugg)}{unreviewed}"
    return "from the items list"


def _mapping(session: Session, case: CaseState) -> list[MappingRow]:
    out = []
    for row in session.rows(case):
        out.append(MappingRow(
            row.label_value, category_label(row.category) if row.category is not None else None,
            _origin(case, row), str(row.status),
            session.colour(row)))
    return out


def _grids(case: CasePlan, rec: CaseRecord) -> None:
    if not rec.image_grid:  # the preview could not read the image: its headers may say
        try:
            rec.image_grid = grid_text(image_grid(list(case.image_files)))
        except (SegmapError, OSError, ValueError) as exc:
            rec.errors.append(f"image grid: {exc}")
    for mask in case.masks:
        try:
            rec.mask_grids.append((mask.name, grid_text(image_grid([mask]))))
        except (SegmapError, OSError, ValueError) as exc:
            rec.mask_grids.append((mask.name, f"unreadable: {exc}"))


def _hashes(case: CasePlan, rec: CaseRecord) -> None:
    for f in [*case.image_files, *case.masks]:
        try:
            rec.hashes.append((str(f), sha256_of(f)))
        except (SegmapError, OSError) as exc:
            rec.hashes.append((str(f), f"unreadable: {exc}"))


def _stats(case: CasePlan, preview: CasePreview, rec: CaseRecord) -> list[SegmentStats]:
    """``series_stats`` of the case, measured on the preview's volumes: the image is read
    and the masks merged once for both. The same rules: the merged labels on the image
    grid (a mask that is not, even reoriented, is not measured), a voxel of an overlap
    group counting for each member, mapped keys first, then the values no key names;
    min and max are left out (None)."""
    vols = preview.volumes
    if vols.match is not None and not vols.match.aligned:
        rec.errors.append(f"statistics: {GeometryMismatchError(vols.match)}")
        return []
    per_value = {} if vols.labels is None else \
        value_stats(vols.labels, vols.image, extremes=False)
    voxel_ml = abs(float(np.linalg.det(vols.grid.affine[:3, :3]))) / 1000.0

    def measure(key: str, category: Category | None, inst: int, mapped: bool) -> SegmentStats:
        values = [inst, *(preview.segments.get(inst) or [])]
        hits = [per_value[v] for v in dict.fromkeys(values) if v in per_value]
        n = sum(h[0] for h in hits)
        return SegmentStats(key=key, category=category, voxels=n, volume_ml=n * voxel_ml,
                            mean=sum(h[1] for h in hits) / n if n else None, min=None,
                            max=None, mapped=mapped)

    known = {inst for inst, _, _ in case.keys}
    out = [measure(key, category, inst, True) for inst, key, category in case.keys if inst != 0]
    out += [measure(str(inst), None, inst, False)
            for inst in sorted(preview.segments) if inst not in known and inst != 0]
    return out


def _write_thumbs(case: CasePlan, rec: CaseRecord, folder: Path) -> Work[None]:
    if case.request is None:
        rec.errors.append(case.error)
        return
    preview = yield from load_case_preview(case.request)
    if preview.merge_error:
        rec.errors.append(f"merge: {preview.merge_error}")
    rec.image_grid = grid_text(preview.volumes.grid)
    match = preview.volumes.match
    rec.relation = "" if match is None else f"{match.relation}: {match.message}"
    unmapped = [m.value for m in rec.mapping if m.category is None and m.value is not None]
    images = thumbnails(preview, case.colours, unmapped)
    if case.measured and not preview.merge_error:
        rec.stats = _stats(case, preview, rec)
    del preview  # the image goes before the next case is read
    for view in VIEWS:
        name = f"case{rec.index:05d}-{view}.png"
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(png_bytes(images[view]))
        rec.thumbs[view] = name


def gather_case(case: CasePlan, index: int, folder: Path, findings: list[Finding]
                ) -> Work[CaseRecord]:
    """The record of ``case`` with its ``findings`` (the validation's of this task), its
    thumbnails written into ``folder`` (its image is read, drawn and dropped here)."""
    rec = CaseRecord(index, case.name, sign_off=case.sign_off, included=case.included,
                     binary=case.binary, findings=list(findings), mapping=list(case.mapping))
    try:
        yield from _write_thumbs(case, rec, folder)
    except SegmapError as exc:
        rec.errors.append(f"preview: {exc}")
    _grids(case, rec)
    _hashes(case, rec)
    return rec
