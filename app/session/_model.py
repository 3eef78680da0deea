"""The wizard's working state, without Qt: cases, mapping rows, edits, review.

A session holds the one items list (``app.items._model``) being built or edited, and
per task what the wizard needs around it: the mask files the case owns (also
those not written yet), the image it describes, the suggestions and which
mappings are still unreviewed suggestions. Mapping rows are computed from the
items list, the censuses and the suggestions; editing a row edits the items list.
The CLI's ``scan``/``build``/``validate``/``export`` and the wizard's pages call
the same functions underneath.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import InputError
from app.items import (
    Category,
    ImportShape,
    ItemsList,
    Segment,
    SegmentMap,
    Series,
    Task,
    Taxonomy,
    category_label,
    relpath,
)
from app.mapping import Suggestion, Template, file_key
from app.progress import Work
from app.readers import Census, nifti_info
from app.validate import FileCache

if TYPE_CHECKING:
    from app.export import ExportSummary
    from app.validate import Finding


# Row statuses, from worst to best (the table sorts and colours by them).
ABSENT = "absent"  # mapped, but the value is in no file: RedBrick rejects it
NOT_IN_TAXONOMY = "not-in-taxonomy"  # the category is not a usable taxonomy category
UNMAPPED = "unmapped"  # in the files, no category: a view-only annotation
SUGGESTED = "suggested"  # mapped from a suggestion nobody has accepted yet
EMPTY = "empty"  # a binary mask with no voxels (left out)
OK = "ok"


@dataclass(frozen=True)
class ImageInfo:
    """What the Cases page shows about a case's image."""

    label: str
    files: tuple[Path, ...]
    is_dicom: bool
    modality: str = ""
    patient: str = ""
    study: str = ""
    description: str = ""
    slices: int = 0
    shape: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "files": [str(f) for f in self.files],
                "is_dicom": self.is_dicom, "modality": self.modality, "patient": self.patient,
                "study": self.study, "description": self.description, "slices": self.slices,
                "shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageInfo:
        return cls(d["label"], tuple(Path(f) for f in d["files"]), bool(d["is_dicom"]),
                   d.get("modality", ""), d.get("patient", ""), d.get("study", ""),
                   d.get("description", ""), int(d.get("slices", 0)), tuple(d.get("shape", ())))


@dataclass
class CaseState:
    """One task of the session and what the wizard knows around it."""

    task: Task
    shape: ImportShape
    masks: list[Path]  # every mask file of the case, absolute, in segmentation order
    image: ImageInfo
    layout: str = ""
    evidence: str = ""
    case_key: str = ""  # the case id mask names may start with (for structure names)
    warnings: list[str] = field(default_factory=list)
    included: bool = True
    # Best suggestion per target: (mask path, value) for label maps, (mask path, None) for binary.
    suggestions: dict[tuple[Path, int | None], Suggestion] = field(default_factory=dict)
    # Instance ids whose category came from a suggestion nobody accepted yet.
    unreviewed: set[int] = field(default_factory=set)
    series_index: int = 0  # the series that carries the segmentations

    @property
    def name(self) -> str:
        return str(self.task.name)

    @property
    def series(self) -> Series:
        return self.task.series[self.series_index]

    @property
    def binary(self) -> bool:
        return self.shape.binary


@dataclass(frozen=True)
class Row:
    """One line of the mapping table: a value of the label maps, or one binary mask."""

    key: int | None  # the segmentMap key (instance id), None while unmapped (binary)
    value: int | None  # the voxel value in the files (label maps); None for binary rows
    files: tuple[Path, ...]
    voxels: int
    volume_ml: float
    category: Category | None
    suggestion: Suggestion | None
    status: str
    message: str

    @property
    def label_value(self) -> int | None:
        """The value this row has in the merged volume RedBrick receives (its instance id)."""
        return self.key if self.key is not None else self.value


@dataclass
class Session:
    """The items list being built or edited, with one CaseState per task."""

    items: ItemsList
    cases: list[CaseState]
    source: Path
    taxonomy: Taxonomy | None = None
    taxonomy_path: Path | None = None
    cache: FileCache = field(default_factory=FileCache)
    messages: list[str] = field(default_factory=list)  # what opening the source reported
    _reals: dict[str, Path] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ reading
    @property
    def base(self) -> Path:
        """Folder the items list's relative paths start from."""
        return self.items.base_dir

    def census(self, path: Path) -> Census | None:
        """The census of a mask (cached; None when the file cannot be read)."""
        return self.cache.check(str(path)).census

    def case(self, name: str) -> CaseState:
        for c in self.cases:
            if c.name == name:
                return c
        raise InputError(f"No case named {name!r}.")

    def _real(self, path: Path) -> Path:
        # Rows are recomputed on every edit for cases of 100+ masks: remember the
        # symlink-resolved form of each path instead of asking the file system again.
        key = str(path)
        if key not in self._reals:
            self._reals[key] = path.resolve()
        return self._reals[key]

    def _resolve(self, p: str) -> Path:
        resolved = self.items.resolve(p)
        return self._real(resolved) if resolved else Path(p)

    def mask_keys(self, case: CaseState) -> dict[Path, int]:
        """Instance id per binary mask file (resolved path) of a case."""
        smap = case.series.segment_map
        if smap is None:
            return {}
        return {self._resolve(seg.mask): key for key, seg in smap.segments.items()
                if isinstance(seg.mask, str)}

    def mapped_key_of(self, case: CaseState, mask: Path) -> int | None:
        """The instance id whose binary ``mask`` is this file, if any."""
        return self.mask_keys(case).get(self._real(mask))

    def rows(self, case: CaseState) -> list[Row]:
        """The mapping rows of a case (see Row), in value order."""
        return self._binary_rows(case) if case.binary else self._labelmap_rows(case)

    def _status(self, case: CaseState, key: int | None, category: Category | None,
                present: bool, mapped: bool) -> tuple[str, str]:
        value = key
        if not mapped:
            return UNMAPPED, (f"Value {value} is not mapped: it will import as an uneditable, "
                              "view-only annotation." if value is not None else
                              "This mask is not mapped: it will not be imported.")
        if not present:
            return ABSENT, (f"Value {value} is mapped to {category_label(category)} but occurs "
                            "in no file: RedBrick's label validation rejects it. Remove the "
                            "mapping or fix the masks.")
        if self.taxonomy is not None:
            info = self.taxonomy.lookup(category)
            if info is None or info.archived or not info.is_segmentation:
                why = ("is not in the taxonomy" if info is None else
                       "is archived" if info.archived else "is not a segmentation category")
                return NOT_IN_TAXONOMY, (f"{category_label(category)} {why}: RedBrick refuses "
                                         "the task. Choose a category from the taxonomy.")
        if key in case.unreviewed:
            return SUGGESTED, "Suggested, not reviewed yet: check it and accept it."
        return OK, ""

    def _labelmap_rows(self, case: CaseState) -> list[Row]:
        smap = case.series.segment_map
        per_value: dict[int, list[tuple[Path, int, float]]] = {}
        for f in case.masks:
            c = self.census(f)
            if c is None:
                continue
            for v, n in c.nonzero.items():
                if float(v).is_integer():
                    per_value.setdefault(int(v), []).append((f, n, n * c.voxel_volume_ml))
        keys = set(smap.segments) if smap else set()
        rows = []
        for v in sorted(set(per_value) | keys):
            seg = smap.segments.get(v) if smap else None
            holders = per_value.get(v, [])
            files = tuple(f for f, _, _ in holders)
            sugg = next((case.suggestions[(f, v)] for f in files if (f, v) in case.suggestions),
                        None)
            status, msg = self._status(case, v, seg.category if seg else None, bool(holders),
                                       seg is not None)
            rows.append(Row(v, v, files, sum(n for _, n, _ in holders),
                            sum(ml for _, _, ml in holders), seg.category if seg else None,
                            sugg, status, msg))
        return rows

    def _binary_rows(self, case: CaseState) -> list[Row]:
        smap = case.series.segment_map
        rows = []
        seen: set[int] = set()
        keys = self.mask_keys(case)
        for f in case.masks:
            c = self.census(f)
            key = keys.get(self._real(f))
            seg = smap.segments[key] if smap is not None and key is not None else None
            voxels = sum(c.nonzero.values()) if c else 0
            ml = voxels * c.voxel_volume_ml if c else 0.0
            if key is not None:
                seen.add(key)
            if c is not None and c.empty and seg is None:
                status, msg = EMPTY, "Empty mask: nothing to import, left out."
            else:
                status, msg = self._status(case, key, seg.category if seg else None,
                                           voxels > 0, seg is not None)
            rows.append(Row(key, None, (f,), voxels, ml, seg.category if seg else None,
                            case.suggestions.get((f, None)), status, msg))
        for key, seg in (smap.segments.items() if smap else ()):
            if key not in seen:  # a key whose mask is not one of the case's files
                rows.append(Row(key, None, (), 0, 0.0, seg.category, None, ABSENT,
                                f"Instance {key} names a mask that is not part of this case "
                                f"({seg.mask}): RedBrick rejects it."))
        return rows

    def colour(self, row: Row) -> tuple[int, int, int]:
        """The colour a row is drawn in: its category's in the taxonomy, else a distinct
        colour for its value (stable from run to run)."""
        from app.preview import default_colour

        if row.category is not None and self.taxonomy is not None:
            rgb = self.taxonomy.color_for(row.category)
            if rgb is not None:
                return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
        return default_colour(row.label_value or 0)

    def colours(self, case: CaseState) -> dict[int, tuple[int, int, int]]:
        """Colour per label value of the merged volume (instance ids)."""
        return {r.label_value: self.colour(r) for r in self.rows(case) if r.label_value is not None}

    # ------------------------------------------------------------------ editing
    def set_category(self, case: CaseState, row: Row, category: Category | None) -> None:
        """Map a row to ``category`` (None unmaps it); the change is the user's, so reviewed."""
        series = case.series
        if series.segment_map is None:
            series.segment_map = SegmentMap()
            if case.binary:
                series.segment_map.flags["binaryMask"] = True
        smap = series.segment_map
        if case.binary:
            key = row.key
            if category is None:
                if key is not None:
                    smap.remove(key)
                    case.unreviewed.discard(key)
            elif key is not None:
                smap.segments[key].category = category
                case.unreviewed.discard(key)
            elif row.files:
                key = _free_key(smap)
                smap.set(key, Segment(category=category, mask=relpath(row.files[0], self.base),
                                      compact=False))
        else:
            assert row.value is not None
            if category is None:
                smap.remove(row.value)
            elif row.value in smap.segments:
                smap.segments[row.value].category = category
            else:
                smap.set(row.value, Segment(category=category))
            case.unreviewed.discard(row.value)
        self._sync_segmentations(case)

    def accept(self, case: CaseState, keys: Iterable[int] | None = None) -> int:
        """Accept suggested mappings (all of the case's when ``keys`` is None); returns how many."""
        todo = set(case.unreviewed) if keys is None else set(keys) & case.unreviewed
        case.unreviewed -= todo
        return len(todo)

    def set_included(self, case: CaseState, included: bool) -> None:
        case.included = included

    def _sync_segmentations(self, case: CaseState) -> None:
        """Write ``segmentations`` from the case's files that carry a mapping."""
        series = case.series
        smap = series.segment_map
        if case.binary:
            mapped = set(self.mask_keys(case))
            files = [f for f in case.masks if self._real(f) in mapped]
        else:
            files = [f for f in case.masks if (c := self.census(f)) is None or not c.empty]
            if not smap or not smap.segments:
                files = []
        rel = [relpath(f, self.base) for f in files]
        if not rel:
            series.segmentations = None
            if smap is not None and not smap.segments and not smap.extra:
                series.segment_map = None
        elif case.shape is ImportShape.LABEL_MAP and len(rel) == 1:
            series.segmentations = rel[0]
        else:
            series.segmentations = rel

    # ---------------------------------------------------------------- re-pairing
    def move_mask(self, mask: Path, source: CaseState, target: CaseState) -> list[str]:
        """Move a mask to another case's image (re-pairing); returns what changed, in words.

        The mask must sit on the target image in world space (same grid, or the same
        voxels reoriented), and fit the target's shape: a binary case takes binary
        masks; a label-map case takes label maps (and becomes shape II with two files).
        """
        from app.geometry import Grid, compare_grids

        if mask not in source.masks:
            raise InputError(f"{mask.name} is not a mask of case {source.name}.")
        if source is target:
            return []
        c = self.census(mask)
        if c is None:
            raise InputError(f"{mask.name} cannot be read, so it cannot be moved.")
        if target.binary and not c.binary:
            raise InputError(f"{mask.name} holds several values; case {target.name} takes one "
                             "binary mask per structure.", "Move it to a label-map case.")
        info = nifti_info(mask)
        match = compare_grids(self.cache.image_grid(list(target.image.files)),
                              Grid.of(info.shape, info.affine))
        if not match.aligned:
            raise InputError(f"{mask.name} does not lie on the image of {target.name}: "
                             f"{match.message}", "Choose the image the mask was drawn on.")
        done = []
        key = self.mapped_key_of(source, mask) if source.binary else None
        if key is not None and source.series.segment_map is not None:
            source.series.segment_map.remove(key)
            source.unreviewed.discard(key)
        source.masks.remove(mask)
        moved = {k: v for k, v in source.suggestions.items() if k[0] == mask}
        for k in moved:
            del source.suggestions[k]
        if not source.binary and source.series.segment_map is not None:
            left = {int(v) for f in source.masks if (cf := self.census(f)) is not None
                    for v in cf.nonzero if float(v).is_integer()}
            for k in [k for k in source.series.segment_map.segments if k not in left]:
                source.series.segment_map.remove(k)
                source.unreviewed.discard(k)
                done.append(f"value {k} left {source.name} with the mask")
            if len(source.masks) == 1:
                source.shape = ImportShape.LABEL_MAP
        target.masks.append(mask)
        target.suggestions.update(moved)
        if not target.binary and len(target.masks) > 1:
            target.shape = ImportShape.LABEL_MAPS
        self._sync_segmentations(source)
        self._sync_segmentations(target)
        done.insert(0, f"{mask.name} moved from {source.name} to {target.name}")
        return done

    # ------------------------------------------------------- mapping several cases
    def label_set(self, case: CaseState) -> frozenset[str]:
        """What must be equal for a mapping to apply as is: values, or structure names."""
        if case.binary:
            return frozenset(file_key(f, case.case_key) for f in case.masks)
        values: set[str] = set()
        for f in case.masks:
            c = self.census(f)
            if c is not None:
                values.update(str(int(v)) for v in c.nonzero if float(v).is_integer())
        return frozenset(values)

    def mapping_of(self, case: CaseState) -> dict[str, Category | None]:
        """The case's mapping keyed like label_set: value text, or structure name."""
        out: dict[str, Category | None] = {}
        for row in self.rows(case):
            if case.binary and row.files:
                out[file_key(row.files[0], case.case_key)] = row.category
            elif not case.binary and row.value is not None:
                out[str(row.value)] = row.category
        return out

    def apply_mapping(self, source: CaseState, mapping: dict[str, Category | None] | None = None,
                      targets: Iterable[CaseState] | None = None) -> tuple[list[str], list[str]]:
        """Copy ``source``'s mapping to every other case with the same label set.

        Returns (cases changed, cases skipped because their labels differ).
        """
        mapping = mapping if mapping is not None else self.mapping_of(source)
        wanted = self.label_set(source)
        changed, differ = [], []
        for case in targets if targets is not None else self.cases:
            if case is source or case.binary != source.binary:
                continue
            if self.label_set(case) != wanted:
                differ.append(case.name)
                continue
            self._apply(case, mapping)
            changed.append(case.name)
        return changed, differ

    def _apply(self, case: CaseState, mapping: dict[str, Category | None]) -> None:
        for row in self.rows(case):
            if case.binary:
                if not row.files:
                    continue
                k = file_key(row.files[0], case.case_key)
            else:
                k = str(row.value)
            if k not in mapping:
                continue
            if mapping[k] != row.category:
                self.set_category(case, row, mapping[k])
            elif row.key is not None:
                case.unreviewed.discard(row.key)  # the user's mapping vouches for it

    def template(self, case: CaseState) -> Template:
        """The case's mapping as a template (saved with Template.save)."""
        def cand(c: Category | None) -> Any:
            return tuple(c) if isinstance(c, list) else c

        mapping = self.mapping_of(case)
        if case.binary:
            return Template(files={k: cand(v) for k, v in mapping.items()})
        return Template(values={int(k): cand(v) for k, v in mapping.items()})

    def apply_template(self, template: Template) -> tuple[list[str], list[str]]:
        """Apply a template to every case it covers; returns (cases changed, cases that differ).

        Entries the case shares with the template are applied; a case whose label
        set differs is listed so the user can look at it.
        """
        changed, differ = [], []
        for case in self.cases:
            if not (template.files if case.binary else template.values):
                continue
            mapping: dict[str, Category | None] = {}
            for key in self.label_set(case):
                if case.binary:
                    found, cat = template.file_entry(key)
                else:
                    found, cat = int(key) in template.values, template.values.get(int(key))
                if found:
                    mapping[key] = list(cat) if isinstance(cat, tuple) else cat
            if template.difference(case.name, self.label_set(case), case.binary) is not None:
                differ.append(case.name)
            if mapping:
                self._apply(case, mapping)
                changed.append(case.name)
        return changed, differ

    # ------------------------------------------------------------------- output
    def included_items(self) -> ItemsList:
        """The items list restricted to the included cases (same objects, same base)."""
        keep = {id(c.task) for c in self.cases if c.included}
        tasks = [t for t in self.items.tasks if id(t) in keep or not self._owned(t)]
        return ItemsList(tasks=tasks, path=self.items.path, root=self.items.root,
                         problems=self.items.problems)

    def _owned(self, task: Task) -> bool:
        return any(c.task is task for c in self.cases)

    def validate_work(self) -> Work[list[Finding]]:
        """Validate the included cases (as ``segmap validate`` would) plus the review state."""
        from app.validate import finding, sort_findings, validate_work

        items = self.included_items()
        found = yield from validate_work(items, self.taxonomy, cache=self.cache)
        for case in self.cases:
            if case.included and case.unreviewed:
                keys = ", ".join(str(k) for k in sorted(case.unreviewed))
                found.append(finding(
                    "suggestion-unreviewed",
                    f"{len(case.unreviewed)} mapping(s) were suggested by Segmap and not reviewed "
                    f"(ids {keys}). Check them on the Mapping page and accept them.",
                    task=case.name, series=case.series_index))
        return sort_findings(items, found)

    def export(self, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
               ) -> ExportSummary:
        """Write the included cases as an items list (atomic), paths relative to ``root``."""
        from app.export import export_items

        return export_items(self.included_items(), path, root)


def _free_key(smap: SegmentMap) -> int:
    used = set(smap.segments)
    key = 1
    while key in used:
        key += 1
    return key
