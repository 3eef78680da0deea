"""Build an items list from scanned cases, with the suggested segmentMaps.

Only what is certain goes in: a value or binary mask gets an entry when its best
suggestion is accepted (a template) or confident (>= the threshold); the rest is
left out and reported, with the best guess, so a person can decide. Empty masks
are left out and reported too. Paths are written relative to the items list's
folder, as the RedBrick CLI resolves them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from app.discover import Case, LabelTable, ScanResult, rois_of
from app.export import (
    Conversion,
    convert_masks,
    guard_output,
    record_output,
    written_by_segmap,
)
from app.items import (
    CONVERTED_FOLDER,
    ImportShape,
    ItemsList,
    SegmentMap,
    Series,
    Task,
    TaskFields,
    relpath,
    with_fields,
)
from app.mapping._suggest import CONFIDENT, Matcher, Proposal, Suggestion, suggest_file
from app.mapping._task_names import NameSource, plan_names
from app.mapping._templates import Difference, Template, file_key
from app.progress import Progress, Work
from app.readers import split_suffix, value_text


@dataclass(frozen=True)
class LeftOut:
    """A value or mask not written to the items list, and why."""

    case: str
    file: str
    value: int | None
    reason: str
    suggestion: Suggestion | None = None
    voxels: int | None = None  # how many voxels hold it (a value of a label map, or a mask)

    @property
    def what(self) -> str:
        """``labels.nii.gz value 1 (9,452 voxels)``: what was left out, and how big it is."""
        size = "" if self.voxels is None else f" ({self.voxels:,} voxels)"
        return self.file + ("" if self.value is None else f" value {self.value}") + size

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "file": self.file, "value": self.value, "reason": self.reason,
                "voxels": self.voxels,
                "suggestion": self.suggestion.to_json() if self.suggestion else None}


@dataclass
class CaseBuild:
    """What the build decided for one case."""

    case: Case
    proposals: list[Proposal]
    segment_map: dict[int, Suggestion]  # instance id -> the suggestion used
    masks: dict[int, Path]  # instance id -> binary mask (shape III)
    files: list[Path]  # segmentation files written


@dataclass
class BuildResult:
    """The items list and the report of what was left out."""

    items: ItemsList
    cases: list[CaseBuild] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    empty: list[LeftOut] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    output: Path | None = None
    converted: tuple[Conversion, ...] = ()
    field_notes: list[str] = field(default_factory=list)  # task names and fields, in words

    def mappings(self) -> list[tuple[bool, Path, int | None, Any]]:
        """Decided mappings ``(binary, file, value, category)`` for a template."""
        out: list[tuple[bool, Path, int | None, Any]] = []
        for cb in self.cases:
            for inst, s in cb.segment_map.items():
                if cb.case.shape.binary:
                    out.append((True, cb.masks[inst], None, s.category))
                else:
                    out.append((False, cb.files[0], inst, s.category))
        return out

    def to_json(self, scan: ScanResult) -> dict[str, Any]:
        """``{"output", "tasks", "cases", "left_out", "empty", "template_differences",
        "field_notes", "unpaired"}``."""
        def case_json(cb: CaseBuild) -> dict[str, Any]:
            segs = {}
            for inst, s in sorted(cb.segment_map.items()):
                j = s.to_json()
                if inst in cb.masks:
                    j["mask"] = scan.rel(cb.masks[inst])
                segs[str(inst)] = j
            return {"name": cb.case.name, "shape": cb.case.shape, "layout": cb.case.layout,
                    "segmentations": [scan.rel(f) for f in cb.files], "segments": segs}

        return {
            "output": str(self.output) if self.output else None,
            "tasks": len(self.items.tasks),
            "cases": [case_json(cb) for cb in self.cases],
            "left_out": [x.to_json() for x in self.left_out],
            "empty": [x.to_json() for x in self.empty],
            "template_differences": [d.to_json() for d in self.differences],
            "converted": [c.to_json() for c in self.converted],
            "field_notes": self.field_notes,
            "unpaired": [u.to_json() for u in scan.unpaired],
        }


def propose(scan: ScanResult, case: Case, matcher: Matcher,
            template: Template | None = None) -> list[Proposal]:
    """Suggestions for every value (shapes I, II) or binary mask (shape III) of a case."""
    out: list[Proposal] = []
    tables: Sequence[LabelTable] = scan.tables
    for path in case.masks:
        c = scan.censuses.get(path)
        if c is None:
            continue
        out.extend(suggest_file(path, c, tables, scan.root, matcher,
                                binary_file=case.shape.binary, case_key=case.image.name,
                                layout=case.layout))
    if template is not None:
        template.apply(out, case.image.name)
    return out


def _usable(s: Suggestion | None, min_confidence: float) -> TypeGuard[Suggestion]:
    return s is not None and s.usable(min_confidence)


def _why(s: Suggestion | None) -> str:
    if s is None:
        return "no name found (no sidecar, header or file name names it)"
    if s.category is None:
        return f"{s.how} ({s.source})" if s.name else f"no category ({s.source})"
    return f"not confident enough ({s.confidence:.2f}, {s.how})"


def _voxels(scan: ScanResult, path: Path, value: int) -> int | None:
    c = scan.censuses.get(path)
    return None if c is None else int(sum(n for v, n in c.values.items() if v == value))


def build_case(scan: ScanResult, case: Case, base: Path, matcher: Matcher,
               template: Template | None, min_confidence: float, result: BuildResult
               ) -> Task:
    """One task: the image series (plus other channels) with the decided segmentMap."""
    proposals = propose(scan, case, matcher, template)
    by_file: dict[Path, list[Proposal]] = {}
    for p in proposals:
        by_file.setdefault(p.target.file, []).append(p)
    files: list[Path] = []
    for path in case.masks:
        c = scan.censuses.get(path)
        if c is not None and c.empty:
            result.empty.append(LeftOut(case.name, scan.rel(path), None, "the mask is empty"))
        elif c is not None:
            files.append(path)
    seg_map: dict[int, Suggestion] = {}
    masks: dict[int, Path] = {}
    if case.shape.binary:
        for path in files:
            best = by_file[path][0].best if by_file.get(path) else None
            if _usable(best, min_confidence):
                assert best is not None
                masks[len(masks) + 1] = path
                seg_map[len(masks)] = best
            else:
                c = scan.censuses.get(path)
                result.left_out.append(LeftOut(case.name, scan.rel(path), None, _why(best), best,
                                               sum(c.nonzero.values()) if c else None))
        files = list(masks.values())
    else:
        chosen: dict[int, list[tuple[Path, Suggestion | None]]] = {}
        for path in files:
            for p in by_file.get(path, []):
                assert p.target.value is not None
                chosen.setdefault(p.target.value, []).append((path, p.best))
        pending: list[tuple[Path, int, str, Suggestion | None]] = []
        for value, options in sorted(chosen.items()):
            usable = [s for _, s in options if _usable(s, min_confidence)]
            cats = {repr(s.category) for s in usable if s}
            if usable and len(cats) == 1:  # files without a name for it do not object
                seg_map[value] = usable[0]
                continue
            reason = (f"files disagree: {', '.join(sorted(cats))}" if len(cats) > 1
                      else _why(next((s for _, s in options if not _usable(s, min_confidence)),
                                     None)))
            pending.extend((path, value, reason, s) for path, s in options
                           if len(cats) > 1 or not _usable(s, min_confidence))
        if not seg_map:
            files = []  # nothing mapped: importing the file would only add unnamed labels
        tail = ("; the value stays in the file: RedBrick shows it without a category unless "
                "uploaded with --prune-segmentations") if seg_map else \
            "; no value of this case is mapped, so its masks are not written"
        result.left_out.extend(LeftOut(case.name, scan.rel(path), value, reason + tail, s,
                                       _voxels(scan, path, value))
                               for path, value, reason, s in pending)
    if template is not None:
        binary = case.shape.binary
        keys = ([file_key(p, case.image.name) for p in case.masks] if binary else
                [value_text(v) for v in {int(v) for p in case.masks if p in scan.censuses
                                         for v in scan.censuses[p].nonzero}])
        diff = template.difference(case.name, keys, binary)
        if diff is not None:
            result.differences.append(diff)
    result.cases.append(CaseBuild(case, proposals, seg_map, masks, files))
    return _task(case, base, seg_map, masks, files)


def _series_name(image: Any) -> str:
    return image.name if image.is_dicom else split_suffix(image.files[0].name)[0]


def _items(image: Any, base: Path) -> str | list[str]:
    paths = [relpath(f, base) for f in image.files]
    return paths if image.is_dicom else paths[0]


def _task(case: Case, base: Path, seg_map: dict[int, Suggestion], masks: dict[int, Path],
          files: list[Path]) -> Task:
    series = Series(items=_items(case.image, base), name=_series_name(case.image))
    if files:
        cats = {inst: s.category_json() for inst, s in seg_map.items()}
        if case.shape.binary:
            series.segmentations = [relpath(f, base) for f in files]
            series.segment_map = SegmentMap.of(
                cats, {i: relpath(p, base) for i, p in masks.items()})  # type: ignore[arg-type]
        else:
            rel = [relpath(f, base) for f in files]
            one = case.shape is ImportShape.LABEL_MAP and len(rel) == 1
            series.segmentations = rel[0] if one else rel
            series.segment_map = SegmentMap.of(cats)  # type: ignore[arg-type]
            if one and (rois := rois_of(files)) is not None:  # kept as RedBrick's CLI takes it
                series.segment_map.bind_rois(rois)  # written keyed by ROI name
    others = [Series(items=_items(o, base), name=_series_name(o)) for o in case.others]
    return Task(name=case.name, series=[series, *others])


def _with_fields(scan: ScanResult, result: BuildResult, fields: dict[str, TaskFields],
                 pattern: str | None) -> list[Task]:
    """The built tasks with their names and fields (``result.field_notes`` says what
    could not be done as asked)."""
    plan = plan_names([NameSource(c.name, c.image.files, c.image.is_dicom) for c in scan.cases],
                      pattern, {k: f.name for k, f in fields.items() if f.name})
    result.field_notes.extend(plan.notes)
    tasks = []
    for case, task in zip(scan.cases, result.items.tasks, strict=True):
        given = fields.get(case.name)
        if given is None or given.empty:  # only its name: built here, so not copied
            task.name = plan.names[case.name]  # (a deep copy was 60% of a build's time)
            tasks.append(task)
            continue
        task, notes = with_fields(task, given, plan.names[case.name])
        result.field_notes.extend(f"{case.name}: {n}" for n in notes)
        tasks.append(task)
    return tasks


def scan_inputs(scan: ScanResult) -> list[Path]:
    """Every file a scan read: volumes, DICOM files, label tables (and items lists)."""
    return [*(v.path for v in scan.volumes), *(f for s in scan.series for f in s.files),
            *(t.path for t in scan.tables)]


def build(scan: ScanResult, output: str | os.PathLike[str], *, matcher: Matcher | None = None,
          template: Template | None = None, min_confidence: float = CONFIDENT,
          write: bool = True, force: bool = False,
          inputs: Iterable[str | os.PathLike[str] | None] = (),
          fields: dict[str, TaskFields] | None = None,
          name_pattern: str | None = None) -> Work[BuildResult]:
    """Build (and with ``write``, save atomically) the items list for every case.

    Each task is named by ``name_pattern`` (``app.mapping._task_names``; else its case
    id) and carries its case's ``fields`` (by case id: ``read_task_fields``).

    With ``write``, nothing is written when ``output`` is an input (a file the scan read,
    or one of ``inputs``: the taxonomy, the template) or is a file Segmap did not write
    and ``force`` is False (``app.export.ReplaceRefused``), or when the list holds a name
    JSON cannot (``ItemsList.check_writable``)."""
    if write:
        target = Path(output).expanduser()
        # Segmap's own list, unchanged, read again by the scan: nothing of the user's is lost.
        read = [] if written_by_segmap(target) else scan_inputs(scan)
        guard_output(target, [*read, *inputs], force=force)
    out = Path(output).expanduser().resolve()
    base = out.parent
    matcher = matcher or Matcher()
    result = BuildResult(ItemsList(path=out))
    for i, case in enumerate(scan.cases):
        if i % 20 == 0:
            yield Progress(i, len(scan.cases), f"mapping {case.name}")
        result.items.tasks.append(build_case(scan, case, base, matcher, template,
                                             min_confidence, result))
    result.items.tasks = _with_fields(scan, result, fields or {}, name_pattern)
    if write:  # RedBrick reads NIfTI masks only: NRRD masks are written as NIfTI beside it
        result.items.check_writable(out)  # before any file is written
        result.items, converted = convert_masks(result.items, out.parent / CONVERTED_FOLDER,
                                                mirror=scan.root)
        result.converted = tuple(converted)
        result.items.save(out)
        record_output(out)
        result.output = out
    yield Progress(len(scan.cases), len(scan.cases), "items list written" if write else "done")
    return result
