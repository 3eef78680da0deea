"""Standard labels out: each included case as a DICOM SEG of its source series, and its
label table as a 3D Slicer colour table and an ITK-SNAP label description file.

The labels are the merged volume RedBrick receives (``PreviewRequest.merge``): its values
are the instance ids, an overlap group's voxels belong to each of its members. A segment
is named after its category (``Organs / Liver``), coloured as the wizard shows it
(``Session.colours``) and coded with its confirmed code, else the SNOMED CT concept its
name means (``Session.code_of``; a value no entry maps, or a name no DICOM code fits, gets
Segmap's local code, which Slicer and OHIF show by its meaning). Files go under ``out``:
``dicom-seg/<case>.dcm``, ``labels/<case>.csv`` (Slicer) and ``labels/<case>.label.txt``
(ITK-SNAP). A case whose image is not a DICOM series gets its tables and no SEG, and the
result says why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import SegmapError
from app.export import (
    LabelRow,
    SegmentSpec,
    write_dicom_seg,
    write_itksnap_labels,
    write_slicer_colour_table,
)
from app.geometry import Grid
from app.items import category_label
from app.merge import MergeResult
from app.preview import group_members
from app.progress import Progress, Work
from app.readers import Format, volume_format
from app.session._model import CaseState
from app.session._session import Session

SEG_FOLDER = "dicom-seg"
TABLE_FOLDER = "labels"


@dataclass
class StandardLabels:
    """What ``export_standard_labels`` wrote, and what it left out and why."""

    segs: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "case: why"

    def to_json(self) -> dict[str, object]:
        return {"dicom_seg": [str(p) for p in self.segs],
                "label_tables": [str(p) for p in self.tables], "skipped": self.skipped}


def _file_name(case: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case).strip("._") or "case"


def _rows(session: Session, case: CaseState, merged: MergeResult,
          colours: dict[int, tuple[int, int, int]]) -> list[LabelRow]:
    """One row per instance id with voxels: its category, colour and code."""
    smap = case.task.segment_map_of(case.series_index)
    categories = {inst: seg.category for inst, seg in smap.segments.items()} \
        if smap is not None else {}
    masks = {inst: [session.base / m for m in ([seg.mask] if isinstance(seg.mask, str)
                                               else seg.mask or [])]
             for inst, seg in smap.segments.items()} if smap is not None else {}
    rows = []
    for inst in sorted(merged.segments):
        category = categories.get(inst)
        name = category_label(category) if category is not None else f"unmapped value {inst}"
        rgb = colours.get(inst, (128, 128, 128))
        rows.append(LabelRow(inst, name, (int(rgb[0]), int(rgb[1]), int(rgb[2])),
                             session.code_of(case, category, masks.get(inst) or
                                             ([] if case.binary else case.masks),
                                             None if case.binary else inst).code))
    return rows


def _masks(merged: MergeResult) -> np.ndarray | dict[int, np.ndarray]:
    """The label map itself, or one mask per instance when overlap groups hold voxels."""
    assert merged.volume is not None
    groups = group_members(merged.segments)
    if not groups:
        return merged.volume
    members: dict[int, list[int]] = {}
    for g, insts in groups.items():
        for inst in insts:
            members.setdefault(inst, []).append(g)
    return {inst: np.isin(merged.volume, [inst, *members.get(inst, [])])
            for inst in merged.segments}


def _seg(case: CaseState, merged: MergeResult, rows: list[LabelRow], path: Path,
         force: bool) -> Path:
    assert merged.volume is not None and merged.affine is not None
    specs = [SegmentSpec(r.value, r.name, r.code.category if r.code else None,
                         r.code.type if r.code else None,
                         r.code.modifier if r.code else None, r.rgb) for r in rows]
    written = write_dicom_seg(path, list(case.image.files), _masks(merged), specs,
                              grid=Grid.of(merged.volume.shape[:3], merged.affine),
                              series_description=f"Segmap: {case.name}", force=force)
    return written.path


def export_standard_labels(session: Session, out: str | os.PathLike[str], *,
                           dicom_seg: bool = True, tables: bool = True, force: bool = False,
                           names: Collection[str] | None = None) -> Work[StandardLabels]:
    """Write the standard label files of every included case (of those ``names``, when
    given) under ``out`` (see the module). Yields Progress; a case that cannot be written
    is skipped with the reason, the others are written."""
    folder = Path(out).expanduser()
    done = StandardLabels()
    cases = [c for c in session.cases if c.included and (names is None or c.name in names)]
    for i, case in enumerate(cases):
        yield Progress(i, max(1, len(cases)), f"Standard labels of {case.name}")
        if not case.series.segmentation_paths:
            done.skipped.append(f"{case.name}: no segmentations")
            continue
        try:
            request = session.preview_request(case)
            if request.merge is None:
                done.skipped.append(f"{case.name}: no segmentations to merge")
                continue
            merged = yield from request.merge.merge()
        except SegmapError as exc:
            done.skipped.append(f"{case.name}: {exc}")
            continue
        if merged.volume is None:
            done.skipped.append(f"{case.name}: the merge left no labels")
            continue
        rows = _rows(session, case, merged, dict(session.colours(case)))
        stem = _file_name(case.name)
        inputs = [*case.image.files, *case.masks]
        try:
            if tables:
                done.tables.append(write_slicer_colour_table(
                    folder / TABLE_FOLDER / f"{stem}.csv", rows, force=force, inputs=inputs))
                done.tables.append(write_itksnap_labels(
                    folder / TABLE_FOLDER / f"{stem}.label.txt", rows, force=force,
                    inputs=inputs))
            if dicom_seg:
                files = list(case.image.files)
                if not files or volume_format(files[0]) is not Format.DICOM:
                    done.skipped.append(f"{case.name}: a DICOM SEG needs a DICOM image "
                                        "series; this case's image is not one")
                else:
                    done.segs.append(_seg(case, merged, rows,
                                          folder / SEG_FOLDER / f"{stem}.dcm", force))
        except SegmapError as exc:
            done.skipped.append(f"{case.name}: {exc}")
    yield Progress(len(cases), max(1, len(cases)), "Standard labels written")
    return done
